"""`axis mcp serve --allow-exec`: the SDK's client over stdio sees the two acting tools (and the
read-only server has none: tests/test_mcp.py), `create_claim` stores and binds a claim as `axis
apply` of one does and never replaces one, and `exec_on_claim` refuses without confirm "YES"
before anything is looked up. In-process (the SDK's Client on the server object), with the run
replaced by a script: what comes back for an exit code, an OOM kill and a lost connection. The
command on a real sshd host: tests/integration/test_mcp_exec_hosts.py."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from axis.api.mcp_server import build_server
from axis.app import guarded_exec
from axis.app.context import AppContext
from axis.hostcmd.claim_exec import ExecLost, ExecResult
from axis.placement.ledger import place_claims
from axis.state import Database
from tests import dbcheck
from tests.claimkit import claim, host, store
from tests.factskit import golden_facts
from tests.dbcheck import dump
from tests.test_mcp import session_calls

GREETING = {"task": "print a greeting", "requires": {"memory": "256Mi", "tools": []}, "ttl": "10m"}


def _fleet(state: Path | str) -> None:
    """Host b with stored facts, claim `job` bound to it, claim `waits` that fits nowhere."""
    db = Database(state)
    store(db, [host("b"), claim("job", requires={"memory": "1Gi"}), claim("waits", requires={"memory": "4000Gi"})],
          {"b": golden_facts("debian12")}, now=time.time())
    place_claims(db, now=time.time())
    db.close()


def test_the_acting_tools_say_what_they_do_and_exec_needs_confirm(state_db: Path | str) -> None:
    _fleet(state_db)
    before = dump(state_db)
    tools, results = anyio.run(session_calls, state_db, [
        ("exec_on_claim", {"claim": "job", "command": "echo hi"}),
        ("exec_on_claim", {"claim": "nope", "command": "echo hi", "confirm": "yes"})], "--allow-exec")
    by_name = {t.name: t for t in tools}
    assert sorted(by_name) == ["cluster_status", "create_claim", "exec_on_claim", "get_host", "list_controllers",
                               "list_hosts", "list_sources", "rank_hosts"]
    run = by_name["exec_on_claim"].annotations
    assert run is not None and run.read_only_hint is False and run.destructive_hint is True
    assert 'confirm is "YES"' in (by_name["exec_on_claim"].description or "")
    assert set(by_name["exec_on_claim"].input_schema["required"]) == {"claim", "command"}
    made = by_name["create_claim"].annotations
    assert made is not None and made.read_only_hint is False and made.destructive_hint is False
    unconfirmed, lower = results
    assert unconfirmed.is_error and unconfirmed.content[0].text.endswith(
        'refused: confirm must be "YES" to run a command on a host (got \'\'); nothing was started')
    assert lower.is_error and "(got 'yes')" in lower.content[0].text  # refused before the claim is looked up
    assert dump(state_db) == before


def test_create_claim_stores_and_binds_as_apply_does_and_never_replaces_one(state_db: Path | str, axis: Any) -> None:
    _fleet(state_db)
    _, results = anyio.run(session_calls, state_db, [
        ("create_claim", {"name": "greet", **GREETING}),
        ("create_claim", {"name": "job", "task": "take over a person's claim"}),
        ("create_claim", {"name": "huge", "task": "print a greeting", "requires": {"memory": "4000Gi"}}),
        ("create_claim", {"name": "bad", "task": "x", "requires": {"memory": "lots", "cpus": 4}}),
        ("create_claim", {"task": "print a greeting", "requires": {"tools": []}})], "--allow-exec")
    made, taken, pending, bad, unnamed = results
    assert not made.is_error, made.content
    doc = made.structured_content
    shown = json.loads(axis("get", "claim", "greet", "-o", "json").out)
    # the four later calls each ran a claims pass, which probed the bound claim again: its condition's
    # lastProbeTime may have moved on (a second boundary crossed), nothing else may differ
    probed = [(made_c.pop("lastProbeTime"), shown_c.pop("lastProbeTime"))
              for made_c, shown_c in zip(doc["status"]["conditions"], shown["status"]["conditions"], strict=True)]
    assert doc == shown and all(first <= later for first, later in probed)
    assert doc["status"]["phase"] == "Bound" and doc["status"]["host"] == "b"
    assert doc["metadata"]["source"] == "<mcp>:1" and doc["spec"]["ttl"] == "10m"
    assert [r[0] for r in dbcheck.rows(state_db, "SELECT host FROM leases WHERE claim = 'greet'")] == ["b"]
    assert taken.is_error and "Claim 'job' exists already" in taken.content[0].text
    assert json.loads(axis("get", "claim", "job", "-o", "json").out)["spec"]["task"] == "batch job"  # untouched
    assert not pending.is_error and pending.structured_content["status"]["phase"] == "Pending"
    assert "no host fits" in pending.structured_content["status"]["reason"]
    assert bad.is_error
    text = bad.content[0].text
    assert "spec.requires.memory" in text and "spec.requires.cpus" in text and text.endswith("nothing was stored")
    assert axis("get", "claim", "bad").code == 1
    assert not unnamed.is_error and unnamed.structured_content["metadata"]["name"].startswith("agent-")


def _script(outcome: ExecResult | Exception, output: str = "") -> Callable[..., ExecResult]:
    def run(app: AppContext, claim: str, line: str, on_output: Callable[[str, str], None]) -> ExecResult:
        on_output("stdout", output)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome
    return run


async def _calls(app: AppContext, calls: list[dict[str, Any]]) -> list[Any]:
    async with Client(build_server(app, allow_exec=True)) as client:
        return [await client.call_tool("exec_on_claim", args) for args in calls]


def test_exec_answers_what_the_operation_reports(state_db: Path | str, monkeypatch: pytest.MonkeyPatch) -> None:
    _fleet(state_db)
    app = AppContext(state=state_db)
    yes = {"claim": "job", "command": "python3 big.py", "confirm": "YES"}
    said = "killed: used more than its claim's memory (3.0Gi of 1.0Gi)"
    monkeypatch.setattr(guarded_exec, "run_on_claim", _script(ExecResult(137, True, said, "watchdog no memory controller"), "loading\n"))
    oom, = anyio.run(_calls, app, [yes])
    assert not oom.is_error
    assert oom.structured_content == {"claim": "job", "command": "python3 big.py", "exitCode": 137, "oomKilled": True,
                                      "message": said, "enforcement": "watchdog no memory controller",
                                      "output": "loading\n", "outputTruncated": 0}
    monkeypatch.setattr(guarded_exec, "run_on_claim", _script(ExecLost("b: unreachable: connection reset"), "half\n"))
    lost, = anyio.run(_calls, app, [yes])
    assert lost.is_error and lost.content[0].text.endswith(
        "connection lost while the command ran, its outcome is unknown: b: unreachable: connection reset\n"
        "--- output so far ---\nhalf\n")
    monkeypatch.undo()  # the real operation refuses an unbound claim before contacting any host
    pending, missing = anyio.run(_calls, app, [{**yes, "claim": "waits"}, {**yes, "claim": "nope"}])
    assert pending.is_error and "not started: claim 'waits' is not bound (Pending: no host fits" in pending.content[0].text
    assert missing.is_error and missing.content[0].text.endswith("Claim 'nope' not found")
