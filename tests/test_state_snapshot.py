"""The plain DB-API read (`axis.state.snapshot`) reads what the ORM's tables hold, on both backends:
its rows keep every column of their table (a column added to `axis.state.tables` fails here until
the snapshot reads it too), its rows equal the ORM's row for row, and a DB that does not exist or
is not at the schema's head is created or upgraded by the ORM path first, as every command did."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import SQLModel, select

from axis.app.context import AppContext
from axis.placement.candidates import load_candidates, read_candidates
from axis.specs import Kind
from axis.state import Database, StateError, claims, jobs, leases, ownership
from axis.state.conditions import set_condition
from axis.state.events import list_events
from axis.state.feature_status import FeatureRow, store_feature_status
from axis.state.snapshot import HOST_SCOPE, TABLES
from axis.state.sources import record_host_revision
from axis.state.tables import (ClaimStatus, Condition, DesiredObject, FactsRecord, FeatureStatus, HostRevision, Job,
                               Lease, Ownership)
from tests.backend import on_postgresql
from tests.claimkit import T0, claim, facts, host, store
from tests.legacydb import legacy_state_db


def test_every_row_class_reads_every_column_of_its_table() -> None:
    for row, table in TABLES.items():
        columns = {c.name for c in SQLModel.metadata.tables[table].columns}
        assert {f.name for f in dataclasses.fields(row)} == columns, table
    assert HOST_SCOPE == ownership.HOST


def _filled(state: Path | str) -> Database:
    """A DB with a row in every table the documents read, JSON, booleans and nulls among them."""
    db = Database(state)
    store(db, [host("web-1", labels={"role": "worker"}), host("web-2"), claim("job", requires={"memory": "1Gi"})],
          {"web-1": facts(), "web-2": None})
    with db.write() as s:
        leases.grant(s, claim="job", host="web-1", memory=2**30, gpu=True, ttl=600, now=T0)
        claims.set_status(s, "job", "Bound", generation=1, now=T0, host="web-1")
        jobs.add(s, job_id="job-0123456789ab", claim="job", host="web-1", line="sleep 1", now=T0)
        set_condition(s, Kind.HOST, "web-1", "Reachable", True, "Observed", generation=1, now=T0)
        store_feature_status(s, "web-1", [FeatureRow("earlyoom", "refused", "NoSudo", "sudo: a password is required",
                                                     "abc", {"install": "denied"})], generation=1, now=T0)
        record_host_revision(s, "web-1", "fleet", "main@sha1:" + "a" * 40, T0)
        s.add(Ownership(scope=ownership.HOST, name="web-1", holder="ctl-1", token=3, acquired=T0, expires=T0 + 9e9))
    return db


def _columns(row: Any) -> dict[str, Any]:
    """A row's columns, ORM model or snapshot dataclass alike."""
    if dataclasses.is_dataclass(row):
        return dataclasses.asdict(row)  # type: ignore[arg-type]  # an instance here
    return row.model_dump()


def test_the_snapshot_reads_what_the_orm_reads(state_db: Path | str) -> None:
    db = _filled(state_db)
    with db.read() as s:
        orm: dict[str, list[Any]] = {
            "objects": list(s.exec(select(DesiredObject).where(DesiredObject.kind == Kind.HOST)
                                   .order_by(DesiredObject.name)).all()),
            "facts": sorted(s.exec(select(FactsRecord)).all(), key=lambda r: r.host),
            "feature_status": list(s.exec(select(FeatureStatus)).all()),
            "conditions": list(s.exec(select(Condition)).all()),
            "leases": list(s.exec(select(Lease)).all()),
            "claim_status": list(s.exec(select(ClaimStatus)).all()),
            "host_revisions": list(s.exec(select(HostRevision)).all()),
            "ownership": list(s.exec(select(Ownership)).all()),
            "jobs": list(s.exec(select(Job)).all()),
            "events": list_events(s),
        }
    with db.snapshot() as snap:
        newest = snap.latest_facts(["web-1", "web-2"])
        mine: dict[str, list[Any]] = {
            "objects": snap.objects(Kind.HOST), "facts": [newest["web-1"], newest["web-2"]],
            "feature_status": snap.feature_status(["web-1"]), "conditions": snap.conditions(Kind.HOST),
            "leases": snap.leases(), "claim_status": list(snap.claim_statuses().values()),
            "host_revisions": list(snap.host_revisions().values()), "ownership": list(snap.holders(T0).values()),
            "jobs": list(snap.newest_jobs().values()), "events": snap.events(),
        }
        assert snap.latest_facts_with_data("web-2") is None  # unreachable: its JSON null is no facts
        assert snap.latest_facts_with_data("web-1") == newest["web-1"]
        assert [e.name for e in snap.events(kind=Kind.HOST, limit=1)] == ["web-2"]
    db.close()
    for table, rows in orm.items():
        assert [_columns(r) for r in mine[table]] == [_columns(r) for r in rows], table
        assert rows, table  # every table was read with a row in it
    assert isinstance(mine["leases"][0].gpu, bool) and isinstance(mine["objects"][0].labels, dict)


def test_placement_reads_the_same_candidates_both_ways(state_db: Path | str) -> None:
    """The ledger's bind ranks through the ORM, `axis place` through the snapshot: same hosts,
    same facts, same leased memory (a live lease and an expired one among them)."""
    db = _filled(state_db)
    with db.write() as s:
        leases.grant(s, claim="old", host="web-1", memory=2**31, gpu=False, ttl=1, now=T0 - 100)
    for now in (T0, T0 + 10_000):
        with db.read() as s:
            orm = load_candidates(s, now=now, local_hostname="web-1")
        with db.snapshot() as snap:
            assert read_candidates(snap, now=now, local_hostname="web-1") == orm
    assert [c.name for c in orm] == ["web-1", "web-2"] and orm[0].leased == 0  # all expired by then
    db.close()


def test_a_new_db_is_created_by_the_orm_path_first(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """A SQLite file that does not exist, or an empty PostgreSQL database (no tables yet)."""
    empty = request.getfixturevalue("pg_url") if on_postgresql() else tmp_path / "new" / "state.db"
    app = AppContext(state=empty)
    with app.snapshot() as snap:
        assert snap.objects(Kind.HOST) == []
    assert app._db is not None  # created (or migrated) through Database, then read


@pytest.mark.sqlite_only("a pre-Alembic SQLite file is the one DB not at the schema's head that can be made")
def test_a_db_behind_the_schema_is_upgraded_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "old.db"
    legacy_state_db(path, 7, monkeypatch)
    app = AppContext(state=path)
    with app.snapshot() as snap:
        assert snap.objects(Kind.HOST) == []
    assert app._db is not None
    fresh = AppContext(state=path)  # now at head: read directly, no ORM
    with fresh.snapshot() as snap:
        assert snap.leases() == []
    assert fresh._db is None


@pytest.mark.sqlite_only("a damaged file is a SQLite matter")
def test_a_file_that_is_no_db_is_one_line_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"not a database at all" * 100)
    with pytest.raises(StateError, match=r"junk\.db: file is not a database; this file is not an axis state DB"):
        with AppContext(state=path).snapshot():
            pass
