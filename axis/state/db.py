"""Opening the state DB, SQLite (the default) or PostgreSQL, upgraded, with one writer at a time.

SQLite: a real file in WAL mode. In WAL a deferred transaction that reads and then writes fails
at once with SQLITE_BUSY when another writer got there first, and busy_timeout cannot help; so
every write transaction starts with BEGIN IMMEDIATE and waits its turn instead. Read-only
sessions use a plain BEGIN.

PostgreSQL: every write transaction starts by taking one transaction-scoped advisory lock
(`WRITE_LOCK_KEY`), which is what BEGIN IMMEDIATE is on SQLite: one writer at a time, readers
never blocked, and at READ COMMITTED each writer sees every earlier writer's commit once it has
the lock. So all read-then-write code (the lease ledger's bind among it) is as correct on
PostgreSQL as on SQLite, in separate processes too. Reads are REPEATABLE READ, READ ONLY: one
snapshot, as a SQLite read transaction is.

A writer waits for the lock as long as SQLite's busy timeout (`write_wait`, 15 s; the server's
`lock_timeout` bounds advisory locks too), then fails saying another axis held it too long: a
paused or hung axis mid-transaction must not hang every other one. Opening checks the schema's
revision in a read first and takes the write lock only when an upgrade is due, so a reader never
waits for a writer at open either.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from axis.state.dbapi import BUSY_TIMEOUT_MS, driver_errors, pg_connect_args
from axis.state.errors import StateError, db_error, os_error
from axis.state.location import Location
from axis.state.schema import SchemaError, is_current, upgrade
from axis.state.snapshot import Snapshot, read_snapshot

#: The PostgreSQL advisory lock every write transaction holds (the bytes of "axiswrit").
WRITE_LOCK_KEY = 0x6178697377726974


class Database:
    """One state DB; sessions are short and explicit, never a hidden global."""

    def __init__(self, location: Location | Path | str, *, write_wait: float = BUSY_TIMEOUT_MS / 1000):
        """`write_wait`: seconds a write waits for another writer before failing (a StateError)."""
        self.location = Location.of(location)
        self._fence: Callable[[Session], None] | None = None
        if self.location.path is not None:
            try:
                self.location.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise os_error(self.location.path, "create its directory", exc) from exc
            self.engine = _sqlite_engine(self.location.path, write_wait)
            self._reading = self.engine.execution_options(axis_readonly=True)
        else:
            self.engine = _postgres_engine(self.location, write_wait)
            self._reading = self.engine.execution_options(axis_readonly=True, isolation_level="REPEATABLE READ",
                                                          postgresql_readonly=True)
        try:
            with self._reading.connect() as conn:
                due = not is_current(conn.connection.dbapi_connection, self.location.backend)
            if due:
                with self.engine.begin() as conn:
                    upgrade(conn)
        except DBAPIError as exc:
            self.engine.dispose()
            raise db_error(self.location, exc) from exc
        except SchemaError as exc:
            self.engine.dispose()
            raise StateError(f"{self.location}: {exc}") from exc

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One write transaction (BEGIN IMMEDIATE, or the advisory write lock): committed on
        success, rolled back on error. A failing database call (a damaged page, a full disk, a
        server gone) is a StateError naming the location."""
        try:
            with Session(self.engine, expire_on_commit=False) as session:
                with session.begin():
                    if self._fence is not None:
                        self._fence(session)
                    yield session
        except DBAPIError as exc:
            raise db_error(self.location, exc) from exc

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only snapshot; never takes the write lock. Failures as for `write`."""
        try:
            with Session(self._reading, expire_on_commit=False) as session:
                yield session  # closing the session rolls the read transaction back
        except DBAPIError as exc:
            raise db_error(self.location, exc) from exc

    @contextmanager
    def snapshot(self) -> Iterator[Snapshot]:
        """A read-only snapshot through plain DB-API on one of the engine's pooled connections:
        the documents' reads (`axis.state.snapshot`), for a server that has the engine anyway."""
        errors = driver_errors(self.location)
        try:
            raw = self.engine.raw_connection()
        except DBAPIError as exc:
            raise db_error(self.location, exc) from exc
        try:
            with read_snapshot(raw.dbapi_connection, self.location.backend) as snap:
                yield snap
        except errors as exc:
            raise db_error(self.location, exc) from exc
        finally:
            raw.close()  # back to the pool

    def fenced(self, check: Callable[[Session], None]) -> Database:
        """This DB (the same engine) whose every write transaction runs `check` first, after the
        write lock: when it raises, the transaction writes nothing. The leader's work writes
        through one (`Membership.leader_db`), so code that writes in several transactions of its
        own (the claims pass, the jobs pass, the follower) is fenced whole without knowing it."""
        twin = copy.copy(self)
        twin._fence = check
        return twin

    def close(self) -> None:
        self.engine.dispose()


def _sqlite_engine(path: Path, write_wait: float) -> Engine:
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": write_wait})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:  # a DB-API connection: untyped
        dbapi_conn.isolation_level = None  # let the "begin" hook below own transactions
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={round(write_wait * 1000)}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        readonly = conn.get_execution_options().get("axis_readonly", False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

    return engine


def _postgres_engine(location: Location, write_wait: float) -> Engine:
    """psycopg 3; a pooled connection is checked before use (a restarted server's dead ones are
    replaced, not failed on); the "begin" hook takes the write lock (see the module docstring),
    waiting at most `write_wait` seconds (the session's lock_timeout)."""
    engine = create_engine(location.sqlalchemy_url, pool_pre_ping=True,
                           connect_args=pg_connect_args(location, "axis"))

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:  # a DB-API connection: untyped
        dbapi_conn.execute(f"SET lock_timeout = {round(write_wait * 1000)}")
        dbapi_conn.commit()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if not conn.get_execution_options().get("axis_readonly", False):
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITE_LOCK_KEY})")

    return engine
