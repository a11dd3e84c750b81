"""Plain DB-API connections to the state DB (stdlib sqlite3, psycopg 3), without SQLAlchemy.

The commands that only read the state (`axis get`, `describe`, `place`) open one of these for a
single read transaction (`axis.state.snapshot`) and start in a fraction of the time importing
SQLAlchemy and SQLModel takes. Every PostgreSQL connection axis makes (the engine's, the lock
connections', these) shares the libpq options here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from axis.state.errors import db_error
from axis.state.location import Location
from axis.state.schema import is_current
from axis.state.snapshot import Snapshot, read_snapshot

#: How long a statement waits for SQLite's lock before failing (SQLITE_BUSY), in milliseconds.
BUSY_TIMEOUT_MS = 15_000

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


def connect(location: Location, *, connect_timeout: int | None = None) -> Any:
    """A new DB-API connection (sqlite3's or psycopg's: untyped, as DB-API is) for reads; the
    caller closes it. SQLite: autocommit mode, so the caller's BEGIN starts its transaction, and
    the same busy timeout as the engine's. The driver's errors are the caller's to word
    (`driver_errors`, `axis.state.errors.db_error`). `connect_timeout`: PostgreSQL's, in seconds,
    over the URL's and `LIBPQ_DEFAULTS`' (shell completion waits on it at every <TAB>)."""
    if location.path is not None:
        import sqlite3

        return sqlite3.connect(location.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    import psycopg

    args = pg_connect_args(location, "axis")
    if connect_timeout is not None:
        args["connect_timeout"] = connect_timeout
    return psycopg.connect(location.libpq_url, **args)


def driver_errors(location: Location) -> tuple[type[Exception], ...]:
    """The exceptions a failing call of `location`'s driver raises."""
    if location.path is not None:
        import sqlite3

        return (sqlite3.Error,)
    import psycopg

    return (psycopg.Error,)


class SnapshotSource(Protocol):
    """What the documents are read from: an `AppContext` (plain DB-API, the ORM only to create or
    upgrade the DB) or a `Database` (its engine's pooled connections, for the servers)."""

    def snapshot(self) -> AbstractContextManager[Snapshot]: ...


@contextmanager
def direct_snapshot(location: Location, *, connect_timeout: int | None = None) -> Iterator[Snapshot | None]:
    """A snapshot on a connection of its own; None (nothing read) when the DB must be created or
    upgraded first, which only `axis.state.db.Database` does. A failing call is a StateError
    worded as the engine's are (`db_error`). `connect_timeout`: as `connect`'s."""
    if location.path is not None and not location.path.exists():
        yield None
        return
    errors = driver_errors(location)
    try:
        conn = connect(location, connect_timeout=connect_timeout)
    except errors as exc:
        raise db_error(location, exc) from exc
    try:
        with read_snapshot(conn, location.backend) as snap:
            yield snap if is_current(conn, location.backend) else None
    except errors as exc:
        raise db_error(location, exc) from exc
    finally:
        conn.close()
