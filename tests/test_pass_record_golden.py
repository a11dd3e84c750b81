"""What a run of controller passes leaves in the state DB, row for row, against a golden dump.

The golden file (tests/fixtures/pass_record_golden.json) was written by the recording code as it
was before issue 21 made a warm pass cheap (one ORM get-and-flush per condition, the facts row and
feature rows through the unit of work): whatever way the passes are recorded now, the same scripted
passes through the fake transport must leave exactly the same facts history, conditions (with
their transition and probe times), feature status and events. The clock is frozen per pass, so
every stored time is the pass's number; only the time inside the facts document (`collected_at`,
from the parser's own clock) is left out.

The controller's passes (host by host) and an apply's (every host, one record transaction) each
have their dump. Four hosts, 23 passes (more than the facts history keeps): one in sync, one whose step never
takes (it fails its verification every pass), one unreachable for two passes in the middle (its
conditions flip twice), one that refuses a live step (remembered, told once).
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from axis.drivers.features.panic_recovery import PATH, render
from axis.reconcile.host_pass import converge_fleet, plan_work, reconcile_stored_host
from axis.specs.features import PanicRecoverySettings
from axis.state import Database
from axis.state.objects import desired_hosts
from tests.factskit import boundary_of, section, with_sections
from tests.fake_transport import FakeConnector, FakeTransport

GOLDEN = Path(__file__).parent / "fixtures" / "pass_record_golden.json"
_CAPTURE = (Path(__file__).parent / "fixtures" / "facts" / "debian12.txt").read_text()
_B = boundary_of(_CAPTURE)
_IN_SYNC = with_sections(_CAPTURE, [
    section(_B, "panicRecovery.file", render(PanicRecoverySettings(panicSeconds=10)).encode().hex()),
    section(_B, "panicRecovery.panic", "10"),
    section(_B, "panicRecovery.oom", "0")])
_ABSENT = with_sections(_CAPTURE, [
    section(_B, "panicRecovery.file", "", 3, [f"od: {PATH}: No such file or directory"]),
    section(_B, "panicRecovery.panic", "0"),
    section(_B, "panicRecovery.oom", "0")])
#: the file in place, the running kernel not: loading it is refused (a namespaced kernel says no)
_UNLOADED = with_sections(_CAPTURE, [
    section(_B, "panicRecovery.file", render(PanicRecoverySettings(panicSeconds=10)).encode().hex()),
    section(_B, "panicRecovery.panic", "0"),
    section(_B, "panicRecovery.oom", "0")])
_SPECS = """
apiVersion: axis/v1
kind: Host
metadata: {name: insync}
spec: {address: insync.lan, features: {panicRecovery: {panicSeconds: 10}}}
---
apiVersion: axis/v1
kind: Host
metadata: {name: stuck}
spec: {address: stuck.lan, features: {panicRecovery: {panicSeconds: 10}}}
---
apiVersion: axis/v1
kind: Host
metadata: {name: flappy, labels: {role: worker}}
spec: {address: flappy.lan}
---
apiVersion: axis/v1
kind: Host
metadata: {name: refusing}
spec: {address: refusing.lan, features: {panicRecovery: {panicSeconds: 10}}}
"""
PASSES = 23
#: passes (counted from 0) in which `flappy` refuses the connection
DOWN = {5, 6}


def _fake(output: str) -> FakeTransport:
    return FakeTransport().script(r"^sh -s\n", output).script(".", "")


def _dump(db: Database) -> dict[str, Any]:
    """Every row a pass writes, in a stable order, ids left out (they only order the rows)."""
    queries = {
        # an observation without facts holds the JSON null, not SQL NULL (`latest_with_data` asks)
        "facts": "SELECT host, collected_at, status, reason, data, data IS NULL AS sql_null FROM facts ORDER BY host, id",
        "conditions": "SELECT kind, name, type, status, reason, message, last_transition, observed_generation, "
                      "last_probe FROM conditions ORDER BY kind, name, type",
        "feature_status": "SELECT host, feature, state, reason, message, observed_generation, updated_at, "
                          "settings_hash, refused FROM feature_status ORDER BY host, feature",
        "events": "SELECT time, kind, name, type, reason, message FROM events ORDER BY id",
    }
    out: dict[str, Any] = {}
    with db.read() as session:
        for table, query in queries.items():
            rows = []
            for row in session.connection().execute(text(query)).mappings():
                item = dict(row)
                for key in ("data", "refused"):
                    if isinstance(item.get(key), str):
                        item[key] = json.loads(item[key])
                if "sql_null" in item:
                    item["sql_null"] = bool(item["sql_null"])
                if isinstance(item.get("data"), dict):
                    item["data"].pop("collected_at", None)
                rows.append(item)
            out[table] = rows
    return out


async def _apply_pass(db: Database, connector: FakeConnector) -> None:
    """An apply's converge of every host, recorded in one transaction."""
    with db.read() as session:
        hosts, profiles = desired_hosts(session)
        work = plan_work(session, hosts, profiles, planned_at=time.time())
    await converge_fleet(db, connector, work, dry_run=False, extra_tools=[])


async def _controller_pass(db: Database, connector: FakeConnector) -> None:
    """The controller's pass over each host, recorded host by host."""
    for name in connector.transports:
        assert await reconcile_stored_host(db, name, connector) is not None


def run_passes(db: Database, monkeypatch: pytest.MonkeyPatch, way: str) -> dict[str, Any]:
    clock = [0.0]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    refusing = FakeTransport().script(r"^sh -s\n", _UNLOADED).script("sysctl", "", "sysctl: permission denied", 1)
    transports = {"insync": _fake(_IN_SYNC), "stuck": _fake(_ABSENT), "flappy": _fake(_CAPTURE), "refusing": refusing}
    for number in range(PASSES):
        clock[0] = 1000.0 + number
        connector = FakeConnector(transports, dead=frozenset({"flappy"}) if number in DOWN else frozenset())
        asyncio.run((_apply_pass if way == "apply" else _controller_pass)(db, connector))
    monkeypatch.undo()
    return _dump(db)


@pytest.mark.parametrize("way", ["controller", "apply"])
def test_passes_leave_the_rows_the_golden_dump_holds(state_db, axis, specs, monkeypatch, way):
    root = specs({"hosts.yaml": _SPECS})
    assert axis("apply", "--no-converge", "-f", str(root)).code == 0
    db = Database(state_db)
    try:
        with db.write() as session:  # the apply's own event is not the passes'
            session.connection().execute(text("DELETE FROM events"))
        got = run_passes(db, monkeypatch, way)
    finally:
        db.close()
    assert got == json.loads(GOLDEN.read_text())[way]


def test_a_controller_pass_reads_its_desired_state_in_one_query_and_asks_nothing_before_writing(state_db, axis, specs):
    """The warm pass's statements: one read of the stored objects (the host's, the profiles', the
    claims'), no read of the conditions it sets (one upsert) nor of the facts it trims."""
    root = specs({"hosts.yaml": _SPECS})
    assert axis("apply", "--no-converge", "-f", str(root)).code == 0
    db = Database(state_db)
    connector = FakeConnector({"insync": _fake(_IN_SYNC)})
    statements: list[str] = []

    def seen(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        statements.append(" ".join(statement.split()))

    try:
        asyncio.run(reconcile_stored_host(db, "insync", connector))  # the first pass creates the conditions
        event.listen(db.engine, "before_cursor_execute", seen)
        reconciled = asyncio.run(reconcile_stored_host(db, "insync", connector))
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
        db.close()
    assert reconciled is not None and reconciled.outcome.status == "unchanged"
    selects = [s for s in statements if s.upper().startswith("SELECT") and "pg_advisory" not in s]
    assert len([s for s in selects if "FROM objects" in s]) == 1
    assert not [s for s in selects if "FROM conditions" in s or s.startswith("SELECT facts.id")]
    assert len([s for s in statements if "INTO conditions" in s]) == 1
