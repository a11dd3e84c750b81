"""An apply records its hosts' passes in one transaction that never asks the DB for the hosts'
conditions: each host's three (Reachable, Converged, Ready) are one upsert, where they were once
three reads per host (a no-op apply at 20 hosts spent a third of its record transaction on them),
then one read for the fleet. What is recorded stays what each pass says."""

from __future__ import annotations

import asyncio

from sqlalchemy import event

from axis.drivers.transport import ErrorKind, TransportError
from axis.reconcile.host_pass import converge_fleet, plan_work
from axis.specs import Host, Kind
from axis.state.conditions import conditions_of
from axis.state.objects import desired_hosts
from tests.conftest import HOST

NAMES = [f"h{i}" for i in range(5)]


class _Refusing:
    """Every host refuses the connection: each pass still records its three conditions."""

    async def connect(self, host: Host):  # type: ignore[no-untyped-def]
        raise TransportError(ErrorKind.UNREACHABLE, host.metadata.name, "connection refused")


def _pass(app) -> list[str]:  # type: ignore[no-untyped-def]
    """One apply's converge of every host; the SQL statements its record transaction ran."""
    db = app.db()
    with db.read() as session:
        hosts, profiles = desired_hosts(session)
        work = plan_work(session, hosts, profiles, planned_at=1.0)
    statements: list[str] = []

    def seen(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        outcomes = asyncio.run(converge_fleet(db, _Refusing(), work, dry_run=False, extra_tools=[]))
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert [o.status for o in outcomes] == ["failed"] * len(NAMES)
    return statements


def test_conditions_are_not_read_by_an_apply_and_are_recorded_for_every_host(app, axis, specs):
    root = specs({"hosts.yaml": "---".join(HOST.format(name=n) for n in NAMES)})
    assert axis("apply", "--no-converge", "-f", str(root)).code == 0
    _pass(app)  # the first pass creates the conditions
    statements = _pass(app)
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT") and "FROM conditions" in s]
    assert reads == []
    assert len([s for s in statements if "INTO conditions" in s]) == len(NAMES)  # one upsert per host
    with app.db().read() as session:
        for name in NAMES:
            found = {c.type: (c.status, c.reason) for c in conditions_of(session, Kind.HOST, name)}
            assert found == {"Reachable": ("False", "Unreachable"), "Converged": ("Unknown", "HostNotObserved"),
                             "Ready": ("False", "NotReady")}
