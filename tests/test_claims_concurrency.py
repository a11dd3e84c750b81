"""Processes binding claims at once never over-commit a host.

Twenty processes against one state DB (a SQLite file, or PostgreSQL under
AXIS_TEST_BACKEND=postgresql), forked; and, in every run, binders started from scratch (spawn:
no state inherited from the test process) against the session's PostgreSQL server, where the
ledger's write transactions take the advisory lock instead of SQLite's BEGIN IMMEDIATE. Every
process waits at one barrier until all have their DB open, so the binds really race.
"""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from axis.placement.candidates import HEADROOM
from axis.placement.infer import Need
from axis.placement.ledger import bind, place_claims
from axis.state import Database, leases
from axis.state.objects import get_row
from tests.claimkit import GiB, T0, claim, facts, host, store

PROCESSES = 20
HOSTS = {"ubu-1": 30, "ubu-2": 30, "ubu-3": 20, "gpu-1": 64}
#: Spawned binders on PostgreSQL: more than the host has room for (30 GiB, cap 29 GiB: five 5 GiB leases).
BINDERS, ROOM = 12, 5


def _run_pass(state: Path | str, start: multiprocessing.synchronize.Barrier) -> int:  # type: ignore[name-defined]
    db = Database(state)
    start.wait()
    return sum(1 for o in place_claims(db, now=T0) if o.phase == "Bound")


def _bind_same_host(state: Path | str, name: str, start: multiprocessing.synchronize.Barrier) -> bool:  # type: ignore[name-defined]
    db = Database(state)
    start.wait()
    with db.write() as session:
        generation = get_row(session, "Claim", name).generation  # type: ignore[union-attr]
        result = bind(session, claim=name, generation=generation, host="ubu-1", cap=30 * GiB - HEADROOM,
                      need=Need(memory=5 * GiB), gpu=False, ttl=600, now=T0)
    db.close()
    return result.lease is not None


def _report(target, args: tuple, start, results) -> None:  # type: ignore[no-untyped-def]
    results.put(target(*args, start))


def _run_all(target, args_per_process: list[tuple], method: str = "fork") -> list:  # type: ignore[no-untyped-def]
    """Start every process; each opens its DB and waits at one barrier, which lets them all go at once.
    fork: callers close their DB first, so no live connection is forked."""
    ctx = multiprocessing.get_context(method)
    start, results = ctx.Barrier(len(args_per_process)), ctx.Queue()
    procs = [ctx.Process(target=_report, args=(target, args, start, results)) for args in args_per_process]
    for proc in procs:
        proc.start()
    out = [results.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(timeout=30)
        assert proc.exitcode == 0
    return out


def _held(db: Database) -> dict[str, int]:
    with db.read() as session:
        return leases.leased_by_host(session, now=T0)


def test_twenty_processes_running_passes_at_once_never_over_commit(state_db: Path | str):
    db = Database(state_db)
    claims = [claim(f"job-{i:02d}", requires={"memory": f"{3 + i % 5}Gi"}) for i in range(60)]
    store(db, [host(name) for name in HOSTS] + claims, {name: facts(total_gib=gib) for name, gib in HOSTS.items()})
    db.close()
    bound = _run_all(_run_pass, [(state_db,)] * PROCESSES)
    held = _held(db)
    for name, gib in HOSTS.items():
        assert held.get(name, 0) <= gib * GiB - HEADROOM, (name, held)
    with db.read() as session:
        lease_rows = leases.all_leases(session)
    assert sum(bound) == len(lease_rows)  # every claim bound exactly once, by one of the processes
    assert sum(HOSTS.values()) * GiB - len(HOSTS) * HEADROOM - sum(held.values()) < 7 * GiB  # the fleet is full


def test_twenty_processes_binding_to_one_host_fit_exactly_its_cap(state_db: Path | str):
    db = Database(state_db)
    store(db, [host("ubu-1")] + [claim(f"job-{i:02d}") for i in range(PROCESSES)], {"ubu-1": facts(total_gib=30)})
    db.close()
    won = _run_all(_bind_same_host, [(state_db, f"job-{i:02d}") for i in range(PROCESSES)])
    assert sum(won) == 5  # 29 GiB cap / 5 GiB = 5 leases, whichever processes got there first
    assert _held(db) == {"ubu-1": 25 * GiB}


def test_separate_processes_binding_on_postgresql_fit_exactly_the_hosts_room(pg_url: str):
    """The issue's check, whatever AXIS_TEST_BACKEND says: BINDERS processes, each its own
    interpreter and connection, bind a claim each to one host with room for ROOM: exactly ROOM
    leases, never more, and no binder fails."""
    db = Database(pg_url)
    store(db, [host("ubu-1")] + [claim(f"job-{i:02d}") for i in range(BINDERS)], {"ubu-1": facts(total_gib=30)})
    db.close()
    won = _run_all(_bind_same_host, [(pg_url, f"job-{i:02d}") for i in range(BINDERS)], method="spawn")
    assert sum(won) == ROOM
    assert _held(db) == {"ubu-1": ROOM * 5 * GiB}
    with db.read() as session:
        assert sorted(lease.host for lease in leases.all_leases(session)) == ["ubu-1"] * ROOM
    db.close()
