"""One object's bad stored data stays that object's problem (issue 16, item 6).

A state DB written before sizes and durations were bounded (or by hand) can hold a Claim with
`ttl: 99999999999999999999999d`, its lease expiring past year 9999, a Host whose swap size is
over the new maximum, and facts another axis version wrote. Every command about the fleet still
answers for all the other objects and shows the bad one with the reason; only a command about
that very object fails, with one line saying what to do.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from axis.api.app import build_app
from axis.app.context import AppContext
from axis.drivers.connector import SshOptions
from tests.conftest import HOST
from tests.dbcheck import columns, decoded, execute, rows
from tests.factskit import FIXTURES

CLAIMS = """
apiVersion: axis/v1
kind: Claim
metadata: {name: good}
spec: {task: build it, ttl: 5m}
---
apiVersion: axis/v1
kind: Claim
metadata: {name: huge}
spec: {task: build it, ttl: 5m}
"""


@pytest.fixture
def spoiled(axis, specs, state_db: Path | str) -> Path | str:
    """Two hosts and two claims applied, then rows rewritten as an older axis could have left them."""
    root = specs({"h.yaml": HOST.format(name="ok-1") + "---\n" + HOST.format(name="bad-1"), "c.yaml": CLAIMS})
    assert axis("apply", "--no-converge", "-f", str(root)).code == 0
    spec = _spec(state_db, "bad-1")
    spec["features"]["swapfile"]["size"] = str(2**62)  # over the 1 EiB maximum
    _set_spec(state_db, "bad-1", spec)
    _set_spec(state_db, "huge", {**_spec(state_db, "huge"), "ttl": "99999999999999999999999d"})
    now = time.time()
    execute(state_db, "INSERT INTO leases (claim, host, memory_bytes, gpu, acquired, renewed, expires) "
                      "VALUES ('huge', 'ok-1', 1024, :gpu, :now, :now, :expires)", gpu=False, now=now, expires=now + 8.64e27)
    execute(state_db, "INSERT INTO facts (host, collected_at, status, reason, data) "
                      "VALUES ('ok-1', :now, 'complete', '', :data)", now=now, data=json.dumps({"memory": {"total_bytes": "many"}}))
    return state_db


def _spec(state: Path | str, name: str) -> dict:
    [(spec,)] = rows(state, "SELECT spec FROM objects WHERE name = :name", name=name)
    return decoded(spec)


def _set_spec(state: Path | str, name: str, spec: dict) -> None:
    execute(state, "UPDATE objects SET spec = :spec WHERE name = :name", spec=json.dumps(spec), name=name)


def test_get_lists_every_object_and_marks_the_invalid_one(axis, spoiled):
    hosts = axis("get", "hosts")
    assert hosts.code == 0, hosts.err
    assert "ok-1" in hosts.out and "bad-1" in hosts.out and "invalid spec" in hosts.out
    doc = json.loads(axis("get", "hosts", "-o", "json").out)
    status = {item["metadata"]["name"]: item["status"] for item in doc["items"]}
    assert "swapfile" in status["ok-1"]["effectiveFeatures"]
    assert "1048576Ti" in status["bad-1"]["invalid"] and "axis delete host bad-1" in status["bad-1"]["invalid"]
    claims = axis("get", "claims", "-o", "json")
    assert claims.code == 0, claims.err
    phases = {i["metadata"]["name"]: i["status"] for i in json.loads(claims.out)["items"]}
    assert phases["good"]["memory"] != "-" and "3650d" in phases["huge"]["reason"]
    leases = axis("get", "leases")
    assert leases.code == 0 and "huge" in leases.out, leases.err
    assert axis("get", "profiles").code == 0


def test_describe_shows_why_and_place_ranks_the_valid_hosts(axis, spoiled):
    claim = axis("describe", "claim", "huge")
    assert claim.code == 0, claim.err
    assert "longer than the maximum, 3650d" in claim.out
    host = axis("describe", "host", "bad-1")
    assert host.code == 0 and "Invalid:" in host.out, host.err
    placed = axis("place", "compile the kernel", "-o", "json")
    # ok-1's stored facts are unreadable, so no host fits: place's own exit 3, not an error
    assert placed.code == 3 and json.loads(placed.out)["best"] is None, placed.err
    assert "bad-1" not in placed.out


def test_renewing_the_invalid_claim_fails_alone_with_one_line(axis, spoiled):
    renew = axis("renew", "huge")
    assert renew.code == 1
    [line] = renew.err.strip().splitlines()
    assert line.startswith("error: stored Claim 'huge' is no longer valid") and "internal error" not in line


def test_the_fleet_totals_skip_facts_this_axis_cannot_read(axis, spoiled):
    """ok-1's newest facts row is `complete` but in a shape another version wrote: the totals
    count it as reachable with no numbers instead of failing the whole status."""
    status = axis("status", "--cached", "-o", "json")
    assert status.code == 0, status.err
    totals = json.loads(status.out)["totals"]
    assert (totals["hosts"], totals["reachable"], totals["cores"]) == (1, 1, 0)  # bad-1 is no valid host


def test_an_invalid_unleased_claim_does_not_stop_the_others_being_placed(axis, spoiled, state_db: Path | str):
    """`aaa` sorts first and no longer validates; the pass still binds `good` and leaves `aaa`
    Pending with the reason."""
    from axis.reconcile.record import bind_claims
    from axis.state import Database
    from axis.state.claims import get_status

    copied = ", ".join(c for c in columns(state_db, "objects") if c not in ("id", "name"))
    execute(state_db, f"INSERT INTO objects (name, {copied}) "  # huge's row again, as `aaa`
                      f"SELECT 'aaa', {copied} FROM objects WHERE name='huge'")
    execute(state_db, "INSERT INTO facts (host, collected_at, status, reason, data) "
                      "VALUES ('ok-1', :now, 'complete', '', :data)",
            now=time.time(), data=(FIXTURES / "debian12.expected.json").read_text())
    state = Database(state_db)
    bind_claims(state, now=time.time())
    with state.read() as session:
        good, aaa = get_status(session, "good"), get_status(session, "aaa")
    assert good is not None and good.phase == "Bound"
    assert aaa is not None and aaa.phase == "Pending" and "no longer valid" in aaa.reason


def test_api_reads_answer_for_the_fleet(spoiled):
    app = AppContext(state=spoiled, debug=False, connector=SshOptions())
    client = TestClient(build_app(app, "t" * 32), headers={"Authorization": "Bearer " + "t" * 32})
    for path in ("/hosts", "/claims", "/leases", "/status", "/claims/huge", "/hosts/bad-1", "/facts/ok-1"):
        response = client.get(path)
        assert response.status_code == 200, (path, response.text)
    assert client.post("/claims/huge/renew").status_code == 409


def test_a_stored_tool_name_the_script_refuses_leaves_the_other_claims_tools(axis, specs, state_db: Path | str):
    """`tools: ["-x"]`, accepted by the spec before the rule was shared, made the facts script
    raise for every host; a DB that still holds it probes the other claims' tools."""
    from axis.drivers.facts.script import tool_list
    from axis.reconcile.observe import claim_tools
    from axis.state import Database
    from axis.state.objects import desired_claims

    root = specs({"c.yaml": "apiVersion: axis/v1\nkind: Claim\nmetadata: {name: a}\nspec: {task: t, requires: {tools: [git]}}\n"
                            "---\napiVersion: axis/v1\nkind: Claim\nmetadata: {name: b}\nspec: {task: t, requires: {tools: [go]}}\n"})
    assert axis("apply", "--no-converge", "-f", str(root)).code == 0
    spec = _spec(state_db, "b")
    _set_spec(state_db, "b", {**spec, "requires": {**spec["requires"], "tools": ["-x"]}})
    with Database(state_db).read() as session:
        tools = claim_tools(desired_claims(session))
    assert tools == ["git"]
    assert "git" in tool_list(tools)  # what the facts script builder validates: no ValueError
    assert "tool name '-x' is invalid" in json.loads(axis("get", "claims", "b", "-o", "json").out)["status"]["reason"]
