"""PostgreSQL's side of `axis.state.lock`: session advisory locks, each held on a connection of
its own (`LockSession`), so that it ends with the process (kill -9 included) as SQLite's flocks
do. `ApplyLock` takes one exclusively (one apply at a time); every controller holds
`CONTROLLER_LOCK_KEY` shared (`ControllerPresence`), which is how `axis apply`, `get controller`
and `exec --detach` know at once whether a controller runs.

A lock connection is a TCP session like any other: a server restart, `pg_terminate_backend`, an
idle timeout or a NAT dropping it ends the session and its lock while the process runs on. So a
controller re-takes its presence when its connection is gone (`ControllerPresence.ensure`, at
every membership tick), and `present_controller` also counts the controllers' registry
(`axis.state.controllers`): one lost connection cannot turn "a controller runs" into "none".
"""

from __future__ import annotations

import logging
import os
import time
from contextlib import suppress
from typing import Any

from sqlalchemy import Connection, create_engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from axis.state.controllers import CONTROLLERS, is_live
from axis.state.dbapi import pg_connect_args
from axis.state.errors import StateError, db_error
from axis.state.location import Location

logger = logging.getLogger(__name__)

#: The session advisory lock every controller holds shared (the bytes of "axisctrl").
CONTROLLER_LOCK_KEY = 0x617869736374726c
#: A controller's lock connection's application_name: `<prefix><pid>`, for `present_controller`.
CONTROLLER_NAME = "axis controller pid "


class LockSession:
    """A connection of its own, in autocommit, for session advisory locks (they end with it), with
    the same connect timeout and keepalives as the engine's (`pg_connect_args`). A failing call
    closes it and is a StateError naming the location."""

    def __init__(self, location: Location, application_name: str):
        self.location = location
        self._engine = create_engine(location.sqlalchemy_url, poolclass=NullPool,
                                     connect_args=pg_connect_args(location, application_name))
        try:
            self._conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        except DBAPIError as exc:
            self._engine.dispose()
            raise db_error(location, exc) from exc

    def scalar(self, sql: str) -> Any:
        try:
            return self._conn.exec_driver_sql(sql).scalar()
        except DBAPIError as exc:
            self.close()
            raise db_error(self.location, exc) from exc

    def alive(self) -> bool:
        """Whether the session (and so every lock it holds) is still there."""
        try:
            self._conn.exec_driver_sql("SELECT 1")
        except DBAPIError:
            return False
        return True

    def close(self) -> None:
        with suppress(DBAPIError):  # a session the server already ended
            self._conn.close()
        self._engine.dispose()


def holders_sql(key: int, columns: str) -> str:
    """`columns` of pg_stat_activity `a` for the sessions holding advisory lock `key` in this
    database (an advisory key is per database: another state DB on the server has its own)."""
    return (f"SELECT {columns} FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
            f"AND l.classid = {key >> 32} AND l.objid = {key & 0xFFFFFFFF} "
            "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())")


class ControllerPresence:
    """A controller says that it runs by holding `CONTROLLER_LOCK_KEY` shared (many may); which
    hosts each one holds is the ownership table's."""

    def __init__(self, state: Location | str):
        self.location = Location.of(state)
        self._session: LockSession | None = None

    def _take(self) -> LockSession:
        session = LockSession(self.location, f"{CONTROLLER_NAME}{os.getpid()}")
        session.scalar(f"SELECT pg_advisory_lock_shared({CONTROLLER_LOCK_KEY})")
        return session

    def acquire(self) -> None:
        self._session = self._take()

    def release(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def __enter__(self) -> ControllerPresence:
        self.acquire()
        return self

    def ensure(self) -> bool:
        """Take the lock again if its session is gone (see the module docstring); whether it is
        held now. A server still unreachable is logged and left for the next call: the controller
        goes on (its registry row still says it runs), it must not stop for this."""
        if self._session is not None and self._session.alive():
            return True
        if self._session is not None:
            self._session.close()
            self._session = None
        try:
            self._session = self._take()
        except StateError as exc:
            logger.warning("controller presence lost, not taken again yet: %s", exc, extra={"error": str(exc)})
            return False
        logger.warning("controller presence lost (its database session ended) and taken again")
        return True

    def __exit__(self, *_exc: object) -> None:
        self.release()


def present_controller(location: Location) -> tuple[str, float | None] | None:
    """The pid of a running controller and since when (None when unknown), or None when none
    runs: the first started of those holding `ControllerPresence`, else the first started of the
    live controllers in the registry (one whose presence connection was lost and not yet taken
    again). The pid comes from application_name, which every role may read; backend_start is NULL
    for another role's session (without pg_read_all_stats), so the registry's `started` stands in."""
    engine = create_engine(location.sqlalchemy_url, poolclass=NullPool, connect_args=pg_connect_args(location, "axis"))
    try:
        with engine.connect() as conn:
            present = conn.exec_driver_sql(
                holders_sql(CONTROLLER_LOCK_KEY, "a.application_name, extract(epoch FROM a.backend_start)")
                + " ORDER BY a.backend_start NULLS LAST, a.pid LIMIT 1").first()
            registered = _live_registered(conn)
    except DBAPIError as exc:
        raise db_error(location, exc) from exc
    finally:
        engine.dispose()
    if present is not None:
        name = str(present[0] or "")
        pid = name.removeprefix(CONTROLLER_NAME) if name.startswith(CONTROLLER_NAME) else "unknown"
        since = float(present[1]) if present[1] is not None else registered.get(pid)
        return pid, since
    return next(iter(registered.items()), None)


def _live_registered(conn: Connection) -> dict[str, float]:
    """pid → started of the live controllers in the registry, first started first (none when the
    DB has no registry yet)."""
    if conn.execute(text("SELECT to_regclass('controllers')")).scalar() is None:
        return {}
    live: dict[str, float] = {}
    for pid, started in conn.execute(select(CONTROLLERS.c.pid, CONTROLLERS.c.started)
                                     .where(is_live(time.time())).order_by(CONTROLLERS.c.started)):
        live.setdefault(str(pid), float(started))  # two machines' same pid: the first started
    return live
