"""Git source rows: configuration kept apart from history, bounded attempts, suspension events,
host revisions dropped with their host, and schema 5 DBs upgraded without losing rows."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from axis.specs import Kind
from axis.state import Database, schema
from axis.state.events import list_events
from axis.state.objects import delete_object
from axis.state.snapshot import HostRevisionRow
from axis.state.object_kinds import SOURCE_KIND
from axis.state.sources import (MAX_ATTEMPTS, all_sources, begin_attempt, end_attempt,
                                last_pass_seq, mark_applied, passes_since, recent_attempts,
                                record_host_revision, record_source_pass, set_suspended, source_row,
                                upsert_source)
from tests.claimkit import host as host_spec
from tests.claimkit import store
from tests.legacydb import legacy_state_db

REV1, REV2 = "main@sha1:" + "1" * 40, "main@sha1:" + "2" * 40


def _source(db: Database, name: str = "fleet", *, interval: float = 60.0, now: float = 100.0) -> None:
    with db.write() as s:
        upsert_source(s, name=name, url="ssh://git@git.example/fleet.git", ref="main", path="specs",
                      interval=interval, verify=False, now=now)


def test_upsert_keeps_suspension_history_and_revisions(state_db: Path | str):
    db = Database(state_db)
    _source(db)
    with db.write() as s:
        assert set_suspended(s, "fleet", True, now=110.0)
        attempt = begin_attempt(s, "fleet", REV1, now=120.0)
        end_attempt(s, attempt, "Converged", "3 hosts", changed=3, now=130.0)
        mark_applied(s, "fleet", REV1, now=130.0)
    _source(db, interval=10.0, now=200.0)  # the controller restarted with another interval
    with db.read() as s:
        row = source_row(s, "fleet")
        assert row is not None
        assert (row.interval, row.suspended, row.last_attempted, row.last_applied, row.last_applied_at) == \
            (10.0, True, REV1, REV1, 130.0)
        assert (row.created_at, row.updated_at) == (100.0, 200.0)
        assert [a.revision for a in recent_attempts(s, "fleet")] == [REV1]
        reasons = [e.reason for e in list_events(s, kind=SOURCE_KIND, name="fleet")]
    assert reasons == ["Created", "SourceSuspended", "Configured"]
    _source(db, interval=10.0, now=300.0)  # the same configuration again: no change, no event
    with db.read() as s:
        row = source_row(s, "fleet")
        assert row is not None and row.updated_at == 200.0
        assert len(list_events(s, kind=SOURCE_KIND)) == 3


def test_a_new_source_starts_with_no_revisions(state_db: Path | str):
    db = Database(state_db)
    _source(db, "b")
    _source(db, "a")
    with db.read() as s:
        assert [r.name for r in all_sources(s)] == ["a", "b"]
        row = source_row(s, "a")
        assert row is not None
        assert (row.suspended, row.verify, row.last_attempted, row.last_applied, row.last_applied_at) == \
            (False, False, "", "", 0.0)
        assert source_row(s, "nope") is None


def test_suspend_and_resume_record_one_event_per_change(state_db: Path | str):
    db = Database(state_db)
    _source(db)
    with db.write() as s:
        assert set_suspended(s, "fleet", True, now=1.0)
        assert set_suspended(s, "fleet", True, now=2.0)  # already suspended: nothing new to say
        assert set_suspended(s, "fleet", False, now=3.0)
        assert not set_suspended(s, "absent", True, now=4.0)
    with db.read() as s:
        events = [(e.reason, e.type, e.time) for e in list_events(s, kind=SOURCE_KIND, name="fleet")][1:]
        row = source_row(s, "fleet")
        assert row is not None and not row.suspended
    assert events == [("SourceSuspended", "Normal", 1.0), ("SourceResumed", "Normal", 3.0)]


def test_attempts_newest_first_and_bounded(state_db: Path | str):
    db = Database(state_db)
    _source(db)
    _source(db, "other")
    with db.write() as s:
        other = begin_attempt(s, "other", REV2, now=1.0)
        ids = [begin_attempt(s, "fleet", f"main@sha1:{i:040x}", now=float(i), note=f"n{i}")
               for i in range(MAX_ATTEMPTS + 7)]
        end_attempt(s, ids[-1], "SpecInvalid", "specs/a.yaml:3: bad", now=999.0)
    with db.read() as s:
        newest = recent_attempts(s, "fleet")
        assert [a.id for a in newest] == list(reversed(ids))[:5]
        assert (newest[0].result, newest[0].message, newest[0].finished, newest[0].note) == \
            ("SpecInvalid", "specs/a.yaml:3: bad", 999.0, f"n{MAX_ATTEMPTS + 6}")
        assert (newest[1].result, newest[1].finished) == ("Progressing", 0.0)
        kept = recent_attempts(s, "fleet", limit=1000)
        assert [a.id for a in kept] == list(reversed(ids))[:MAX_ATTEMPTS]
        assert [a.id for a in recent_attempts(s, "other")] == [other]  # another source's history is its own
        row = source_row(s, "fleet")
        assert row is not None and row.last_attempted == f"main@sha1:{MAX_ATTEMPTS + 6:040x}"
        assert row.last_applied == ""  # attempted is not applied


def test_end_attempt_counts_hosts_and_ignores_a_trimmed_attempt(state_db: Path | str):
    db = Database(state_db)
    _source(db)
    with db.write() as s:
        attempt = begin_attempt(s, "fleet", REV1, now=1.0, note="force-push")
        end_attempt(s, attempt, "HostsFailed", "1 of 3 hosts failed", changed=2, failed=1, now=5.0)
        end_attempt(s, 123456, "Converged", now=6.0)  # long gone from the history: no error
    with db.read() as s:
        (a,) = recent_attempts(s, "fleet")
    assert (a.revision, a.time, a.result, a.message, a.hosts_changed, a.hosts_failed, a.note, a.finished) == \
        (REV1, 1.0, "HostsFailed", "1 of 3 hosts failed", 2, 1, "force-push", 5.0)


def test_host_revision_follows_the_last_convergence_and_goes_with_its_host(state_db: Path | str):
    db = Database(state_db)
    store(db, [host_spec("web-1"), host_spec("web-2")], now=1.0)
    with db.write() as s:
        record_host_revision(s, "web-1", "fleet", REV1, now=10.0)
        record_host_revision(s, "web-1", "fleet", REV2, now=20.0)
        record_host_revision(s, "web-2", "fleet", REV1, now=30.0)
    with db.read() as s:
        row = _revisions(db).get("web-1")
        assert row is not None and (row.source, row.revision, row.converged_at) == ("fleet", REV2, 20.0)
        assert sorted(_revisions(db)) == ["web-1", "web-2"]
    with db.write() as s:
        delete_object(s, Kind.HOST, "web-1", now=40.0)
    with db.read() as s:
        assert _revisions(db).get("web-1") is None
        assert _revisions(db).get("web-2") is not None


def test_the_pass_counter_never_goes_back_when_the_host_holding_it_is_deleted(state_db: Path | str):
    """A leader reads the passes stored after the last seq it counted: a pass must never get a seq
    at or below one already handed out, also after the host with the newest pass was pruned."""
    db = Database(state_db)
    store(db, [host_spec("web-1"), host_spec("web-2")], now=1.0)
    with db.write() as s:
        record_source_pass(s, "web-1", "fleet", REV1, changed=True, failed=False, now=10.0)
        record_source_pass(s, "web-2", "fleet", REV1, changed=True, failed=False, now=11.0)
    with db.read() as s:
        counted = last_pass_seq(s)
    with db.write() as s:
        delete_object(s, Kind.HOST, "web-2", now=12.0)
        record_source_pass(s, "web-1", "fleet", REV2, changed=True, failed=False, now=13.0)
    with db.read() as s:
        assert [(p.host, p.revision) for p in passes_since(s, "fleet", counted)] == [("web-1", REV2)]
        assert _revisions(db).get("web-2") is None


@pytest.mark.sqlite_only("upgrades a SQLite file made at legacy schema 5")
def test_schema_5_db_gains_the_source_tables_and_keeps_its_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "five.db"
    legacy_state_db(path, 5, monkeypatch)
    raw = sqlite3.connect(path)
    raw.execute("INSERT INTO objects (kind, name, labels, spec, spec_hash, generation, source_path, source_line,"
                " apply_set, created_at, updated_at) VALUES ('Host', 'web-1', '{}', '{\"address\": \"web-1.lan\"}',"
                " 'h1', 1, 'specs/a.yaml', 1, 'specs', 1.0, 1.0)")
    raw.execute("INSERT INTO events (time, kind, name, type, reason, message) VALUES (1.0, 'Host', 'web-1', 'Normal',"
                " 'Created', 'stored')")
    raw.commit()
    before = {t: raw.execute(f"SELECT * FROM {t}").fetchall() for t in ("objects", "events")}
    assert "sources" not in {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    raw.close()

    db = Database(path)
    raw = sqlite3.connect(path)
    assert raw.execute("SELECT version_num FROM alembic_version").fetchone() == (schema.HEAD,)
    assert {t: raw.execute(f"SELECT * FROM {t}").fetchall() for t in ("objects", "events")} == before
    raw.close()
    _source(db)
    with db.write() as s:
        record_host_revision(s, "web-1", "fleet", REV1, now=5.0)
    with db.read() as s:
        assert [r.name for r in all_sources(s)] == ["fleet"]
        assert _revisions(db).get("web-1") is not None


def _revisions(db: Database) -> dict[str, HostRevisionRow]:
    with db.snapshot() as snap:
        return snap.host_revisions()
