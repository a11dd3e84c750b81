"""The state DB: WAL, migrations that keep data, and writers that queue instead of failing.

SQLite here; the schema on PostgreSQL is tested in tests/test_state_schema_pg.py."""

from __future__ import annotations

import os
import shutil
import sqlite3
import textwrap
import threading
from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlmodel import SQLModel, select

from axis.state import Database, StateError
from axis.state import legacy_migrations, schema
from axis.state.events import list_events, record_event, trim_events
from axis.state.tables import Event
from tests.legacydb import legacy_state_db


@pytest.mark.sqlite_only("SQLite's WAL mode and busy timeout")
def test_wal_and_busy_timeout(tmp_path: Path):
    db = Database(tmp_path / "s.db")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
    raw = sqlite3.connect(tmp_path / "s.db")
    assert raw.execute("SELECT version_num FROM alembic_version").fetchone() == (schema.HEAD,)
    # an axis from before Alembic refuses the file as newer than it understands
    assert raw.execute("SELECT value FROM axis_meta WHERE key='schema_version'").fetchone() == (schema.LEGACY_FENCE,)
    assert int(schema.LEGACY_FENCE) > legacy_migrations.LATEST


def test_migrated_schema_matches_the_table_models(tmp_path: Path):
    db = Database(tmp_path / "s.db")
    insp = inspect(db.engine)
    for name, table in SQLModel.metadata.tables.items():
        actual = {c["name"]: c["nullable"] for c in insp.get_columns(name)}
        expected = {c.name: c.nullable for c in table.columns}
        assert actual == expected, name
        assert {tuple(i["column_names"]) for i in insp.get_indexes(name)} >= {
            tuple(c.name for c in i.columns) for i in table.indexes}, name


def test_upgrade_keeps_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A next Alembic revision (here a test one beside a copy of the real ones) runs on open."""
    path = tmp_path / "s.db"
    db = Database(path)
    with db.write() as s:
        record_event(s, "Host", "a", "Created", "kept across upgrades")
    db.close()
    scripts = tmp_path / "alembic"
    shutil.copytree(schema.SCRIPT_DIR, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    (scripts / "versions" / "9000_note.py").write_text(textwrap.dedent(f"""
        import sqlalchemy as sa
        from alembic import op

        revision = "9000"
        down_revision = {schema.HEAD!r}

        def upgrade():
            with op.batch_alter_table("events") as batch:
                batch.add_column(sa.Column("note", sa.String(), nullable=False, server_default=""))
        """))
    monkeypatch.setattr(schema, "SCRIPT_DIR", scripts)
    monkeypatch.setattr(schema, "HEAD", "9000")
    Database(path).close()
    raw = sqlite3.connect(path)
    assert raw.execute("SELECT reason, message, note FROM events").fetchall() == [("Created", "kept across upgrades", "")]
    assert raw.execute("SELECT version_num FROM alembic_version").fetchone() == ("9000",)


def test_newer_schema_is_refused_clearly(tmp_path: Path):
    path = tmp_path / "s.db"
    Database(path).close()
    raw = sqlite3.connect(path)
    raw.execute("UPDATE alembic_version SET version_num='9999'")
    raw.commit()
    with pytest.raises(StateError, match="schema version '9999', newer than this axis"):
        Database(path)


def test_newer_legacy_schema_is_refused_clearly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A file without alembic_version whose axis_meta says a legacy version past 7."""
    path = tmp_path / "s.db"
    legacy_state_db(path, 7, monkeypatch)
    raw = sqlite3.connect(path)
    raw.execute("UPDATE axis_meta SET value='999' WHERE key='schema_version'")
    raw.commit()
    with pytest.raises(StateError, match="schema version 999, newer than this axis"):
        Database(path)


@pytest.mark.sqlite_only("a file that is not a SQLite database")
def test_not_a_database_is_a_state_error(tmp_path: Path):
    path = tmp_path / "s.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StateError, match=str(path)):
        Database(path)


def test_concurrent_read_modify_write_never_fails_busy(state_db: Path | str):
    """BEGIN IMMEDIATE (PostgreSQL: the write advisory lock): 8 threads x 25 read-then-write
    transactions all succeed, none lost."""
    path = state_db
    Database(path).close()
    errors: list[Exception] = []

    def worker(n: int) -> None:
        db = Database(path)
        try:
            for _ in range(25):
                with db.write() as s:
                    count = len(s.exec(select(Event)).all())
                    record_event(s, "Host", f"w{n}", "Tick", str(count))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            db.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    db = Database(path)
    with db.read() as s:
        messages = sorted(int(e.message) for e in list_events(s))
    assert messages == list(range(200))  # each transaction saw every earlier one: serialised


def test_events_are_bounded(state_db: Path | str):
    db = Database(state_db)
    with db.write() as s:
        for i in range(30):
            record_event(s, "Host", "a", "Tick", str(i), now=float(i))
        s.flush()
        trim_events(s, keep=10)
    with db.read() as s:
        assert [e.message for e in list_events(s)] == [str(i) for i in range(20, 30)]
        assert [e.message for e in list_events(s, limit=3)] == ["27", "28", "29"]


def test_schema_version_1_db_is_migrated_without_losing_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A DB made by the first release (schema 1, rows in every table) opens with today's axis."""
    path = tmp_path / "old.db"
    legacy_state_db(path, 1, monkeypatch)
    raw = sqlite3.connect(path)
    assert raw.execute("SELECT value FROM axis_meta WHERE key='schema_version'").fetchone() == ("1",)
    assert {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")} == {
        "axis_meta", "objects", "facts", "feature_status", "leases", "events"}
    raw.execute("INSERT INTO objects (kind, name, labels, spec, spec_hash, generation, source_path, source_line,"
                " apply_set, created_at, updated_at) VALUES ('Host', 'old-1', '{\"role\": \"w\"}',"
                " '{\"address\": \"old-1.lan\"}', 'h1', 3, 'specs/a.yaml', 1, 'specs', 1.0, 2.0)")
    raw.execute("INSERT INTO facts (host, collected_at, status, reason, data) VALUES ('old-1', 5.0, 'complete', '', '{}')")
    raw.execute("INSERT INTO feature_status (host, feature, state, reason, message, observed_generation, updated_at)"
                " VALUES ('old-1', 'swapfile', 'converged', 'Applied', '', 3, 6.0)")
    raw.execute("INSERT INTO leases (claim, host, memory_bytes, gpu, acquired, renewed, expires)"
                " VALUES ('job', 'old-1', 1024, 0, 1.0, 2.0, 99999999999.0)")
    raw.execute("INSERT INTO events (time, kind, name, type, reason, message) VALUES (7.0, 'Host', 'old-1', 'Normal', 'Converged', 'old')")
    raw.commit()
    before = {t: raw.execute(f"SELECT * FROM {t}").fetchall() for t in ("objects", "facts", "feature_status", "leases", "events")}
    raw.close()

    Database(path).close()  # the legacy migrations run from 1 to 7, then Alembic from 0001 to HEAD
    raw = sqlite3.connect(path)
    assert raw.execute("SELECT version_num FROM alembic_version").fetchone() == (schema.HEAD,)
    assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    for table, rows in before.items():
        width = len(rows[0])
        assert [r[:width] for r in raw.execute(f"SELECT * FROM {table}").fetchall()] == rows, table
    # the columns added later got their defaults on the old row
    assert raw.execute("SELECT settings_hash, refused FROM feature_status").fetchall() == [("", "{}")]
    db = Database(path)
    with db.read() as s:
        assert [e.message for e in list_events(s)] == ["old"]
    db.close()


@pytest.mark.sqlite_only("the apply lock file beside a SQLite DB (PostgreSQL: an advisory lock)")
def test_apply_lock_serialises_applies_on_one_state_db(tmp_path: Path):
    """Found by tests/integration/test_crash_concurrency.py: two applies at once raced on the same
    hosts (one reported "still differs after apply"); now the second waits, and says so."""
    from axis.state.lock import ApplyLock

    path = tmp_path / "s.db"
    order: list[str] = []
    waits: list[str] = []
    first = ApplyLock(path).__enter__()

    def second() -> None:
        with ApplyLock(path, on_wait=waits.append):
            order.append("second")

    thread = threading.Thread(target=second)
    thread.start()
    thread.join(0.3)
    assert thread.is_alive() and order == []  # waiting, not refused, not running alongside
    order.append("first")
    first.__exit__(None, None, None)
    thread.join(5)
    assert order == ["first", "second"]
    assert waits and "waiting for another axis apply" in waits[0] and str(os.getpid()) in waits[0]


@pytest.mark.sqlite_only("the controller lock file beside a SQLite DB")
def test_controller_pid_names_a_running_controller_only(tmp_path: Path):
    """`axis apply` asks this before converging: while a controller holds the DB's lock (here in this
    very process, as under `axis serve --watch`) its pid; before and after, None."""
    from axis.state.lock import ControllerLock, controller_pid

    path = tmp_path / "s.db"
    assert controller_pid(path) is None  # no lock file at all
    with ControllerLock(path):
        assert controller_pid(path) == str(os.getpid())
    assert controller_pid(path) is None  # the file stays, the lock is gone


@pytest.mark.sqlite_only("flock on the controller lock file beside a SQLite DB")
def test_a_controller_starting_during_an_apply_probe_is_not_refused(tmp_path: Path):
    """Found in review: `controller_pid`'s momentary shared lock made a starting controller
    report "another axis controller is already running"; it now waits out such a probe."""
    import fcntl

    from axis.state.lock import ControllerLock, controller_pid

    path = tmp_path / "s.db"
    with ControllerLock(path):
        pass  # creates the lock file
    probe = os.open(path.with_name("s.db.controller.lock"), os.O_RDONLY)
    fcntl.flock(probe, fcntl.LOCK_SH)
    threading.Timer(0.3, os.close, (probe,)).start()
    with ControllerLock(path):
        assert controller_pid(path) == str(os.getpid())
