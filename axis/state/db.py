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
import errno
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from axis.state.location import Location
from axis.state.schema import SchemaError, is_current, upgrade

BUSY_TIMEOUT_MS = 15_000
#: The PostgreSQL advisory lock every write transaction holds (the bytes of "axiswrit").
WRITE_LOCK_KEY = 0x6178697377726974


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


#: What to do about a PostgreSQL failure: its SQLSTATEs, or a pattern in libpq's words (a failed
#: connection has no SQLSTATE), and the hint.
_POSTGRES_HINTS = [
    ({"28P01", "28000"}, re.compile(r"password authentication failed|no password supplied"),
     "the server refused the login: check the user in the URL and its password (in the URL, PGPASSWORD "
     "or ~/.pgpass) and the server's pg_hba.conf"),
    ({"3D000"}, re.compile(r'database ".*" does not exist'),
     "the database does not exist: create it (`createdb NAME`, owned by the user axis logs in as) and run "
     "the command again"),
    (set(), re.compile(r"Connection refused|No such file or directory|could not translate host name|timeout expired|"
                       r"Network is unreachable|No route to host"),
     "cannot reach the server: is PostgreSQL running there? check the host and port in --state/AXIS_STATE "
     "(or ?host=/socket/dir for a unix socket)"),
    ({"55P03"}, re.compile(r"lock timeout"),
     "another axis held the write lock for too long (a paused or hung axis?): run the command again"),
    ({"42501"}, re.compile(r"^permission denied"),
     "the user lacks a permission on this database: grant it CREATE and USAGE on its schema, or use its owner"),
]


def db_error(location: Location, exc: BaseException) -> StateError:
    """A StateError for a failed database call: the location (never its password), the
    database's own words on one line, and what to do."""
    orig = getattr(exc, "orig", exc)
    words = " ".join(str(orig).split())
    if location.backend == "sqlite":
        code = getattr(orig, "sqlite_errorname", "") or ""
        hint = next((text for name, text in _SQLITE_HINTS.items() if code == name or code.startswith(name + "_")),
                    None)
    else:
        sqlstate = getattr(orig, "sqlstate", None) or ""
        hint = next((text for states, pattern, text in _POSTGRES_HINTS
                     if sqlstate in states or pattern.search(words)), None)
    return StateError(f"{location}: {words}" + (f"; {hint}" if hint else ""))


def os_error(path: Path, doing: str, exc: OSError) -> StateError:
    """A StateError for a failed file operation beside the state DB (its directory, a lock file)."""
    hints = {errno.EROFS: "the file system is read-only: point --state/AXIS_STATE at a writable place",
             errno.ENOSPC: "the disk is full: free space there and run the command again",
             errno.EDQUOT: "the disk quota is used up: free space there and run the command again",
             errno.EACCES: "no permission: check the owner and mode of its directory",
             errno.EPERM: "not permitted (an immutable file or directory?): check its attributes"}
    hint = hints.get(exc.errno or 0)
    return StateError(f"{path}: cannot {doing}: {exc.strerror or exc}" + (f"; {hint}" if hint else ""))


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
                due = not is_current(conn)
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


#: libpq's connection options axis sets unless the URL gives its own: a server that does not
#: answer fails the connection within seconds, and a peer gone without a word (a dead machine, a
#: dropped NAT entry) is noticed within about a minute, not after the kernel's two hours.
LIBPQ_DEFAULTS = {"connect_timeout": 10, "keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10,
                  "keepalives_count": 3}


def pg_connect_args(location: Location, application_name: str) -> dict[str, Any]:
    """psycopg's connection arguments for every connection axis makes (the engine's and the lock
    connections'): `LIBPQ_DEFAULTS` where the URL's query does not set them (SQLAlchemy would
    put ours over the user's), and who connects, for pg_stat_activity."""
    given = set(parse_qs(urlsplit(location.sqlalchemy_url).query))
    return {"application_name": application_name} | {k: v for k, v in LIBPQ_DEFAULTS.items() if k not in given}


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
