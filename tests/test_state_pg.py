"""The state DB on a real PostgreSQL server (tests/pgserver.py): the Alembic schema, one writer at
a time, one-snapshot reads, the apply lock, and errors that say what to do. Run in every run."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel, select, text
from starlette.testclient import TestClient

from axis.api.app import build_app
from axis.app.context import AppContext
from axis.state import Database, Location, StateError, schema
from axis.state.db import WRITE_LOCK_KEY
from axis.state.events import list_events, record_event
from axis.state.lock import ApplyLock, controller_holder, controller_pid
from axis.state.tables import Event, Lease
from tests.pgserver import PgServer


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_fresh_database_gets_the_models_schema(pg_url: str):
    db = Database(pg_url)
    with db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), SQLModel.metadata) == []
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == schema.HEAD
        types = dict(conn.exec_driver_sql(
            "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema()").all())
    # 64-bit where it can pass 2**31; times as double precision (UTC epoch seconds)
    assert {types[c] for c in ("leases.memory_bytes", "events.id", "facts.id", "objects.id",
                               "source_attempts.id")} == {"bigint"}
    assert types["leases.expires"] == types["events.time"] == "double precision"
    with db.write() as s:
        s.add(Lease(claim="big", host="h", memory_bytes=1 << 40, acquired=1.0, renewed=1.0, expires=2.0))
    with db.read() as s:
        assert s.exec(select(Lease.memory_bytes)).one() == 1 << 40
    db.close()
    Database(pg_url).close()  # opened again: the fast path, nothing to do


def test_the_running_jobs_index_is_partial_and_unique(pg_url: str):
    Database(pg_url).close()
    with psycopg.connect(pg_url) as pg:
        definition = pg.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_jobs_running'").fetchone()
    assert definition is not None and "UNIQUE" in definition[0] and "WHERE" in definition[0]


def test_a_newer_revision_is_refused_clearly(pg_url: str):
    Database(pg_url).close()
    with psycopg.connect(pg_url) as pg:
        pg.execute("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(StateError, match=f"^{pg_url}: the state DB has schema version '9999', newer than this axis"):
        Database(pg_url)


def test_concurrent_first_opens_upgrade_once(pg_url: str):
    errors: list[BaseException] = []

    def open_it() -> None:
        try:
            Database(pg_url).close()
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with psycopg.connect(pg_url) as pg:
        assert pg.execute("SELECT version_num FROM alembic_version").fetchall() == [(schema.HEAD,)]


def test_concurrent_read_modify_write_is_serialised(pg_url: str):
    """The advisory write lock: 6 connections x 20 read-then-write transactions, each sees every
    earlier one (as BEGIN IMMEDIATE on SQLite: tests/test_state_db.py)."""
    Database(pg_url).close()
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        db = Database(pg_url)
        try:
            for _ in range(20):
                with db.write() as s:
                    count = len(s.exec(select(Event)).all())
                    record_event(s, "Host", f"w{n}", "Tick", str(count))
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            db.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    db = Database(pg_url)
    with db.read() as s:
        assert sorted(int(e.message) for e in list_events(s)) == list(range(120))
    db.close()


def test_reads_are_one_read_only_snapshot_and_writes_hold_the_lock(pg_url: str):
    db = Database(pg_url)
    with db.read() as s:
        assert s.execute(text("SHOW transaction_isolation")).scalar() == "repeatable read"
        assert s.execute(text("SHOW transaction_read_only")).scalar() == "on"
        before = len(s.exec(select(Event)).all())
        other = Database(pg_url)
        with other.write() as w:  # a writer is not blocked by the reader...
            record_event(w, "Host", "a", "Tick", "x")
        other.close()
        assert len(s.exec(select(Event)).all()) == before  # ...and the reader keeps its snapshot
    with db.write() as s:
        assert s.execute(text("SHOW transaction_isolation")).scalar() == "read committed"
        held = s.execute(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"))
        assert held.scalar() == 1
    db.close()


def test_a_writer_holding_the_lock_blocks_no_reader_and_another_writer_gives_up_saying_why(pg_url: str):
    """Found in review: every open, reads included, waited without limit for the write lock (a
    paused axis mid-transaction hung them all). Opening an up-to-date DB asks its revision in a
    read, `get hosts` answers beside the writer, and a second writer fails after its `write_wait`
    as SQLite's busy timeout does, saying what held it."""
    Database(pg_url).close()  # at the schema head
    with psycopg.connect(pg_url) as holder:  # a transaction holding the write lock, never ending
        holder.execute(f"SELECT pg_advisory_xact_lock({WRITE_LOCK_KEY})")
        done = subprocess.run([sys.executable, "-m", "axis", "--state", pg_url, "get", "hosts"], capture_output=True,
                              text=True, timeout=60, cwd=Path(__file__).resolve().parent.parent)
        assert done.returncode == 0 and "No hosts found" in done.stdout + done.stderr, done
        db = Database(pg_url, write_wait=0.3)
        started = time.monotonic()
        with pytest.raises(StateError, match=r"lock timeout; another axis held the write lock for too long"):
            with db.write() as session:
                record_event(session, "Host", "a", "Tick", "never stored")
        assert time.monotonic() - started < 5
        with db.read() as session:
            assert list_events(session) == []
        db.close()
        holder.rollback()
    db = Database(pg_url, write_wait=0.3)
    with db.write() as session:  # the lock let go: the same connection setting does not get in the way
        record_event(session, "Host", "a", "Tick", "stored")
    db.close()


def test_apply_lock_waits_for_another_apply_and_names_it(pg_url: str):
    Database(pg_url).close()
    order: list[str] = []
    waits: list[str] = []
    first = ApplyLock(pg_url).__enter__()

    def second() -> None:
        with ApplyLock(pg_url, on_wait=waits.append):
            order.append("second")

    thread = threading.Thread(target=second)
    thread.start()
    thread.join(0.5)
    assert thread.is_alive() and order == []  # waiting, not refused, not running alongside
    order.append("first")
    first.__exit__(None, None, None)
    thread.join(10)
    assert order == ["first", "second"]
    assert waits == [f"waiting for another axis apply (pid {os.getpid()}) on this state DB to finish"]


def test_no_controller_flock_on_postgresql(pg_url: str):
    """Many controllers share a PostgreSQL state DB: no lock file answers there (tests/test_pg_locks.py: the
    presence lock and the registry do); with none of them, none runs."""
    assert controller_holder(Location.of(pg_url)) is None and controller_pid(Location.of(pg_url)) is None


def test_failures_name_the_url_without_its_password_and_say_what_to_do(pg_server: PgServer, pg_url: str):
    port = _free_port()  # nothing listens there
    with pytest.raises(StateError) as refused:
        Database(f"postgresql://axis:hunter2@127.0.0.1:{port}/axis")
    assert str(refused.value).startswith(f"postgresql://axis:***@127.0.0.1:{port}/axis: ")
    assert "hunter2" not in str(refused.value) and "is PostgreSQL running there?" in str(refused.value)

    missing = pg_server.url("no_such_db")
    with pytest.raises(StateError, match=f'^{missing}: .*database "no_such_db" does not exist; .*createdb'):
        Database(missing)

    with psycopg.connect(pg_url) as pg:  # a role that must give a password, over TCP
        pg.execute("CREATE ROLE pw_user LOGIN PASSWORD 'right'")
    hba = pg_server.data / "pg_hba.conf"
    saved = hba.read_text()
    hba.write_text("host all pw_user 127.0.0.1/32 scram-sha-256\n" + saved)
    try:
        with psycopg.connect(pg_url, autocommit=True) as pg:
            pg.execute("SELECT pg_reload_conf()")
        name = pg_url.rsplit("/", 1)[1]
        with pytest.raises(StateError) as wrong:
            Database(f"postgresql://pw_user:wrong@127.0.0.1:{pg_server.port}/{name}")
        assert str(wrong.value).startswith(f"postgresql://pw_user:***@127.0.0.1:{pg_server.port}/{name}: ")
        assert "password authentication failed" in str(wrong.value) and "PGPASSWORD or ~/.pgpass" in str(wrong.value)
    finally:
        hba.write_text(saved)
        with psycopg.connect(pg_url, autocommit=True) as pg:
            pg.execute("SELECT pg_reload_conf()")
            pg.execute("DROP ROLE pw_user")


def test_side_files_of_a_postgresql_state_live_under_the_home(pg_url: str, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    location = Location.of(pg_url)
    assert location.side_dir.parent == tmp_path / ".axis" / "pg"
    assert location.side_file("token") == location.side_dir / "token"


def test_health_shows_the_state_url_without_its_password(pg_url: str):
    with_password = pg_url.replace("postgresql://axis@", "postgresql://axis:hunter2@")  # trust: any password
    token = "t" * 20
    with TestClient(build_app(AppContext(state=with_password), token),
                    headers={"Authorization": f"Bearer {token}"}) as client:
        assert client.get("/health").json()["state"] == pg_url.replace("axis@", "axis:***@")
        assert client.get("/hosts").json()["items"] == []
