"""`axis mcp serve --allow-exec` driven by the MCP SDK's client over stdio, as an agent runs it, on
real sshd test hosts: the agent claims a host with `create_claim`, is refused without confirm
"YES", and runs a command there with `exec_on_claim` through `axis exec`'s operation (lease
renewed as it starts, job capped at the claim's memory): exit code, output tail and oomKilled
come back, and a job over its claim is killed by the watchdog the test hosts really have."""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from axis.app.guarded_exec import OUTPUT_TAIL
from tests.integration.fleetspecs import fleet_axis, host_specs, say

pytestmark = pytest.mark.hosts

ROOT = Path(__file__).resolve().parents[2]
#: 3x the claim's 128Mi, every page written, then held (as tests/integration/test_exec_cap_hosts.py).
EAT = "python3 -c 'b = b\"x\" * (384 << 20); import time; time.sleep(60)'; echo never reached"
CLAIM = {"name": "agent-job", "task": "print a greeting", "requires": {"memory": "128Mi", "tools": []}, "ttl": "30s"}


async def _agent(state: Path, ssh_config: Path, calls: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    """Start the server as an agent's MCP client would, make `calls` in order, return the answers."""
    params = StdioServerParameters(command=sys.executable, cwd=str(ROOT), args=[
        "-m", "axis", "--state", str(state), "--ssh-config", str(ssh_config), "mcp", "serve", "--allow-exec"])
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        return [await session.call_tool(name, args) for name, args in calls]


def _ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_an_agent_claims_a_host_and_runs_a_confirmed_command_there(fleet, axis, specs, state_db: Path) -> None:
    run = fleet_axis(fleet, axis)
    applied = run("apply", "-f", str(specs({"hosts.yaml": host_specs(fleet)})))
    assert applied.code == 0, applied.out + applied.err
    yes = {"claim": "agent-job", "confirm": "YES"}
    started = time.time()
    made, unconfirmed, ran, long_output, eaten = anyio.run(_agent, state_db, fleet.ssh_config, [
        ("create_claim", CLAIM),
        ("exec_on_claim", {"claim": "agent-job", "command": "touch /tmp/agent-was-here"}),
        ("exec_on_claim", {**yes, "command": "echo hi from $(hostname); echo oops >&2; "
                                              "test ! -e /tmp/agent-was-here && exit 3"}),
        ("exec_on_claim", {**yes, "command": "head -c 100000 /dev/zero | tr '\\0' x; echo; echo end"}),
        ("exec_on_claim", {**yes, "command": EAT})])
    assert not made.is_error, made.content
    status = made.structured_content["status"]
    assert status["phase"] == "Bound" and made.structured_content["metadata"]["source"] == "<mcp>:1", status
    host = status["host"]
    assert host in {h.name for h in fleet.hosts}
    assert unconfirmed.is_error and 'confirm must be "YES"' in unconfirmed.content[0].text
    assert not ran.is_error, ran.content
    doc = ran.structured_content
    # exit 3 (not 1): the unconfirmed call's `touch` never ran on the host
    assert (doc["exitCode"], doc["oomKilled"], doc["outputTruncated"]) == (3, False, 0), doc
    assert doc["enforcement"].startswith("watchdog "), doc  # what the test hosts can really do
    assert f"hi from {host}\n" in doc["output"] and "oops\n" in doc["output"]
    tail = long_output.structured_content
    assert tail["exitCode"] == 0 and len(tail["output"]) == OUTPUT_TAIL and tail["output"].endswith("x\nend\n")
    assert tail["outputTruncated"] == 100_000 + len("\nend\n") - OUTPUT_TAIL
    over = eaten.structured_content
    assert not eaten.is_error and (over["exitCode"], over["oomKilled"]) == (137, True), over
    assert over["message"].startswith("killed: used more than its claim's memory (") and "of 128.0Mi)" in over["message"]
    assert "never reached" not in over["output"]
    say(f"exec_on_claim over its claim: exitCode {over['exitCode']}, oomKilled {over['oomKilled']}, "
        f"{over['message']!r}, enforcement {over['enforcement']!r}")
    events = json.loads(run("get", "events", "-o", "json").out)["items"]
    assert [e["type"] for e in events if e["object"] == "Claim/agent-job" and e["reason"] == "OOMKilled"] == ["Warning"]
    lease = json.loads(run("get", "leases", "agent-job", "-o", "json").out)
    assert lease["host"] == host and _ts(lease["renewed"]) >= int(started)  # renewed as each command started
    renewals = [e for e in events if e["object"] == "Claim/agent-job" and e["reason"] == "Renewed"]
    assert len(renewals) == 3, renewals  # one as each confirmed command started; none for the refused one
