"""Opening the state DB: a real SQLite file in WAL mode, migrated, with immediate write transactions.

In WAL a deferred transaction that reads and then writes fails at once with SQLITE_BUSY when
another writer got there first, and busy_timeout cannot help; so every write transaction starts
with BEGIN IMMEDIATE and waits its turn instead. Read-only sessions use a plain BEGIN.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from axis.state.migrations import SchemaError, migrate

BUSY_TIMEOUT_MS = 15_000


class StateError(Exception):
    """The state DB cannot be opened or used; the message says which file, why, and what to do."""


#: What to do about each SQLite failure a user can meet, by its primary result code.
_SQLITE_HINTS = {
    "SQLITE_CORRUPT": "the state DB is damaged: restore it from a backup, or move it aside and run `axis apply` "
                      "to store the desired state again (leases and history are lost)",
    "SQLITE_NOTADB": "this file is not an axis state DB: check --state/AXIS_STATE, or move the file aside and run "
                     "`axis apply` to start a new one",
    "SQLITE_FULL": "the disk holding it is full: free space there and run the command again",
    "SQLITE_READONLY": "it cannot be written (a read-only file system, or no permission): point --state/AXIS_STATE "
                       "at a writable place, or remount it read-write",
    "SQLITE_CANTOPEN": "it cannot be opened (a missing directory, no permission, or a read-only file system): "
                       "point --state/AXIS_STATE at a writable place",
    "SQLITE_IOERR": "the disk reported an I/O error (a full or failing disk, or a read-only file system): check "
                    "the disk and run the command again",
    "SQLITE_BUSY": "another axis held its write lock for too long: run the command again",
    "SQLITE_PERM": "no permission to use it: check its owner and mode",
}


def db_error(path: Path, exc: BaseException) -> StateError:
    """A StateError for a failed SQLite call on `path`: the file, SQLite's words, and what to do."""
    orig = getattr(exc, "orig", exc)
    code = getattr(orig, "sqlite_errorname", "") or ""
    hint = next((text for name, text in _SQLITE_HINTS.items() if code == name or code.startswith(name + "_")), None)
    return StateError(f"{path}: {orig}" + (f"; {hint}" if hint else ""))


def os_error(path: Path, doing: str, exc: OSError) -> StateError:
    """A StateError for a failed file operation beside the state DB (its directory, a lock file)."""
    hints = {errno.EROFS: "the file system is read-only: point --state/AXIS_STATE at a writable place",
             errno.ENOSPC: "the disk is full: free space there and run the command again",
             errno.EDQUOT: "the disk quota is used up: free space there and run the command again",
             errno.EACCES: "no permission: check the owner and mode of its directory",
             errno.EPERM: "not permitted (an immutable file or directory?): check its attributes"}
    hint = hints.get(exc.errno or 0)
    return StateError(f"{path}: cannot {doing}: {exc.strerror or exc}" + (f"; {hint}" if hint else ""))


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
            raise os_error(path, "create its directory", exc) from exc
        self.engine = _engine(path)
        try:
            with self.engine.begin() as conn:
                migrate(conn)
        except DBAPIError as exc:
            raise db_error(path, exc) from exc
        except SchemaError as exc:
            raise StateError(f"{path}: {exc}") from exc

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One write transaction (BEGIN IMMEDIATE): committed on success, rolled back on error.
        A failing SQLite call (a damaged page, a full disk) is a StateError naming the file."""
        try:
            with Session(self.engine, expire_on_commit=False) as session:
                with session.begin():
                    yield session
        except DBAPIError as exc:
            raise db_error(self.path, exc) from exc

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only snapshot; never takes the write lock. Failures as for `write`."""
        try:
            with Session(self.engine.execution_options(axis_readonly=True), expire_on_commit=False) as session:
                yield session  # closing the session rolls the read transaction back
        except DBAPIError as exc:
            raise db_error(self.path, exc) from exc

    def close(self) -> None:
        self.engine.dispose()


def _engine(path: Path) -> Engine:
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:  # a DB-API connection: untyped
        dbapi_conn.isolation_level = None  # let the "begin" hook below own transactions
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        readonly = conn.get_execution_options().get("axis_readonly", False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

    return engine
