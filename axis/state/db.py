"""Opening the state DB: a real SQLite file in WAL mode, migrated, with immediate write transactions.

In WAL a deferred transaction that reads and then writes fails at once with SQLITE_BUSY when
another writer got there first, and busy_timeout cannot help; so every write transaction starts
with BEGIN IMMEDIATE and waits its turn instead. Read-only sessions use a plain BEGIN.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from axis.state.migrations import migrate

BUSY_TIMEOUT_MS = 15_000


class StateError(Exception):
    """The state DB cannot be opened or used; the message says which file and why."""


def state_path(explicit: str | Path | None = None) -> Path:
    """`--state`, then `AXIS_STATE`, then `~/.axis/state.db`."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get("AXIS_STATE")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".axis" / "state.db"


class Database:
    """One state DB file; sessions are short and explicit, never a hidden global."""

    def __init__(self, path: Path):
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StateError(f"{path}: cannot create its directory: {exc.strerror}") from exc
        self.engine = _engine(path)
        try:
            with self.engine.begin() as conn:
                migrate(conn)
        except DBAPIError as exc:
            raise StateError(f"{path}: {exc.orig}") from exc
        except RuntimeError as exc:  # a schema newer than this axis
            raise StateError(f"{path}: {exc}") from exc

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One write transaction (BEGIN IMMEDIATE): committed on success, rolled back on error."""
        with Session(self.engine, expire_on_commit=False) as session:
            with session.begin():
                yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only snapshot; never takes the write lock."""
        with Session(self.engine.execution_options(axis_readonly=True), expire_on_commit=False) as session:
            yield session  # closing the session rolls the read transaction back

    def close(self) -> None:
        self.engine.dispose()


def _engine(path: Path) -> Engine:
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None  # let the "begin" hook below own transactions
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:  # type: ignore[no-untyped-def]
        readonly = conn.get_execution_options().get("axis_readonly", False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

    return engine
