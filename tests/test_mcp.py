"""`axis mcp serve` driven by the official SDK's client over stdio, as an agent's client runs it:
five read-only tools whose answers match what the CLI prints, and a DB left exactly as it was."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from axis.placement.ledger import place_claims
from axis.reconcile.membership import Membership
from axis.state import Database
from tests import dbcheck
from tests.claimkit import claim, host, store
from tests.factskit import golden_facts
from tests.sourcekit import stalled_source
from tests.viewkit import steady

TASK = "run cuda inference on a 7b model"


async def session_calls(state: Path | str, calls: list[tuple[str, dict[str, Any]]],
                        *serve_args: str) -> tuple[list[Any], list[Any]]:
    """Start `python -m axis mcp serve SERVE_ARGS`, list its tools and make `calls`; return both answers."""
    params = StdioServerParameters(command=sys.executable,
                                   args=["-m", "axis", "--state", str(state), "mcp", "serve", *serve_args],
                                   cwd=str(Path(__file__).resolve().parent.parent))
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            tools = (await session.list_tools()).tools
            results = [await session.call_tool(name, args) for name, args in calls]
    return tools, results


def test_the_tools_are_read_only_and_answer_as_the_cli_does(state_db: Path | str, axis: Any) -> None:
    db = Database(state_db)
    store(db, [host("a"), host("b"), host("c"), claim("job", "batch job", requires={"memory": "4Gi"})],
          {"a": golden_facts("ubuntu-24.04-h200-vm"), "b": golden_facts("debian12")}, now=time.time())
    place_claims(db, now=time.time())
    stalled_source(db, time.time())
    Membership(db, "ctl-a", lease=3600).tick()  # a controller holds every host (alive for the whole test)
    db.close()
    before = dbcheck.dump(state_db)
    tools, results = anyio.run(session_calls, state_db, [
        ("list_hosts", {}), ("get_host", {"name": "a"}), ("cluster_status", {}), ("rank_hosts", {"task": TASK}),
        ("get_host", {"name": "nope"}), ("rank_hosts", {"task": ""}), ("list_sources", {}), ("list_controllers", {})])
    assert sorted(t.name for t in tools) == ["cluster_status", "get_host", "list_controllers", "list_hosts", "list_sources",
                                             "rank_hosts"]
    for tool in tools:
        assert tool.annotations is not None and tool.annotations.read_only_hint is True, tool.name
        assert tool.annotations.destructive_hint is False and tool.description
    hosts, one, status, ranked, missing, empty, sources, controllers = results
    assert not any(r.is_error for r in (hosts, one, status, ranked))
    assert steady(hosts.structured_content) == steady(json.loads(axis("get", "hosts", "-o", "json").out))
    assert [h["metadata"]["name"] for h in hosts.structured_content["items"]] == ["a", "b", "c"]
    dbcheck.check_hosts(hosts.structured_content, state_db)  # the DB's values, not only the CLI's
    assert one.structured_content["facts"] == golden_facts("ubuntu-24.04-h200-vm")
    assert one.structured_content["status"]["observed"]["status"] == "complete"
    dbcheck.check_hosts(one.structured_content, state_db)
    assert steady(status.structured_content) == steady(json.loads(axis("status", "--cached", "-o", "json").out))
    assert status.structured_content["totals"]["reachable"] == 2
    dbcheck.check_status(status.structured_content, state_db)
    assert ranked.structured_content == json.loads(axis("place", TASK, "-o", "json").out)
    # the task needs nvidia-smi (and prefers a GPU): of the stored facts only a's list it
    facts = dbcheck.latest_facts(state_db)
    assert facts["a"][1]["tools"]["nvidia-smi"] and not facts["b"][1]["tools"]["nvidia-smi"] and "c" not in facts
    assert ranked.structured_content["best"] == "a"
    assert [r["host"] for r in ranked.structured_content["ranked"]] == ["a"]
    assert {r["host"]: r["reasons"] for r in ranked.structured_content["rejected"]} == {
        "b": ["missing tool nvidia-smi"],
        "c": ["never observed: no facts yet (run `axis status` to gather them)"]}
    assert missing.is_error and "Host 'nope' not found" in missing.content[0].text
    assert empty.is_error and "at least 1 character" in empty.content[0].text
    assert not sources.is_error
    assert steady(sources.structured_content) == steady(json.loads(axis("get", "sources", "-o", "json").out))
    assert [s["lastAppliedRevision"] for s in sources.structured_content["items"]] == [
        r[0] for r in dbcheck.rows(state_db, "SELECT last_applied FROM sources")]
    assert not controllers.is_error
    assert controllers.structured_content == json.loads(axis("get", "controllers", "-o", "json").out)
    assert [(c["name"], c["hosts"], c["leader"], c["state"]) for c in controllers.structured_content["items"]] == [
        ("ctl-a", ["a", "b", "c"], True, "Live")]
    assert one.structured_content["status"]["controller"]["name"] == "ctl-a"
    assert dbcheck.dump(state_db) == before  # nothing the tools did changed a row


@pytest.mark.sqlite_only("a SQLite file that does not exist")
def test_no_state_db_is_refused_rather_than_created(tmp_path: Path, axis: Any) -> None:
    state = tmp_path / "none" / "state.db"
    r = axis("--state", str(state), "mcp", "serve")
    assert r.code == 1 and f"no state DB at {state}" in r.err
    assert not state.exists()
