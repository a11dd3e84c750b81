"""Locks on a state DB: one controller per SQLite DB, one apply at a time on either backend, and
whether a controller runs.

On SQLite both locks are exclusive flocks on files beside the DB; on PostgreSQL the apply lock is
a session advisory lock held on a connection of its own, and many controllers may run, each
holding a shared one that says it runs (`axis.state.pg_locks`). Every one of them dies with its
process (kill -9 included), so a crashed holder never blocks the next one; the holder's pid is
kept (in the file, or the lock connection's application_name) only to make the messages useful.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from axis.state.errors import os_error
from axis.state.location import Location
from axis.state.pg_locks import LockSession, holders_sql, present_controller


#: `controller_pid` holds a shared lock for a moment; a starting controller waits this long
#: (seconds) before it takes a held lock for another controller.
PROBE_GRACE = 1.0


def _flock_within(fd: int, seconds: float) -> None:
    """An exclusive flock, retried for `seconds`; BlockingIOError if it stays held."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.02)


def _open_lock(path: Path) -> int:
    """The lock file's descriptor, created if need be; a StateError that names the file and says
    what to do when its directory is read-only, full or not ours (root ignores modes, not EROFS)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise os_error(path, "open the lock file", exc) from exc


def _write_pid(path: Path, fd: int) -> None:
    """Our pid into the held lock file, for the refusal message of the next one (a full disk
    fails here, after the lock was taken: the lock is let go with the error)."""
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
    except OSError as exc:
        os.close(fd)
        raise os_error(path, "write the lock file", exc) from exc


class LockHeld(Exception):
    """Another process holds the lock; str() names it."""


class ControllerLock:
    """One controller per SQLite state DB (on PostgreSQL many share the hosts: not used there)."""

    def __init__(self, state: Location | Path):
        location = Location.of(state)
        if location.backend != "sqlite":
            raise ValueError(f"{location}: one controller per state DB is a SQLite rule")
        self.path = location.side_file("controller.lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = _open_lock(self.path)
        try:
            _flock_within(fd, PROBE_GRACE)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise LockHeld(f"another axis controller (pid {holder}) is already running on this state DB "
                           f"({self.path}); only one controller per state DB") from None
        _write_pid(self.path, fd)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> ControllerLock:
        self.acquire()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


@dataclass(frozen=True)
class Holder:
    """The controller that holds the lock now."""

    pid: str
    #: when it took the lock (the lock file's mtime, its pid being written right then) or started;
    #: None when PostgreSQL does not tell (another role's session, and no registry row yet)
    since: float | None


def controller_holder(state: Location | Path) -> Holder | None:
    """The controller reconciling this SQLite state DB now, or None when there is none (never
    started, stopped, or killed: the flock dies with the process, whatever it left in the DB).
    On PostgreSQL the first started of the running controllers (many may run): those holding
    `ControllerPresence`, or live in the registry (`axis.state.pg_locks.present_controller`).

    A shared, non-blocking flock on the controller's lock file fails only while a controller
    holds it (in this process too: flock conflicts between open files, not processes)."""
    location = Location.of(state)
    if location.backend != "sqlite":
        present = present_controller(location)
        return Holder(*present) if present is not None else None
    path = location.side_file("controller.lock")
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    except OSError as exc:  # a root controller's 0600 lock file read by another user
        raise os_error(path, "read the controller's lock file", exc) from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return Holder(os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown", os.fstat(fd).st_mtime)
    finally:
        os.close(fd)
    return None


def controller_pid(state: Location | Path) -> str | None:
    """The pid of the controller reconciling this state DB, or None when there is none."""
    holder = controller_holder(state)
    return holder.pid if holder is not None else None


#: The PostgreSQL session advisory lock of `ApplyLock` (the bytes of "axisappl").
APPLY_LOCK_KEY = 0x6178697361707066
#: The lock connection's application_name: `<prefix><pid>`, for the waiting one's message.
_APPLY_NAME = "axis apply pid "


class ApplyLock:
    """One `axis apply` (or API apply) at a time per state DB, waited for, not refused. Two
    applies that both store and converge at once would race on the same hosts (each seeing the
    other's writes as a failed step); one after the other, each finishes cleanly and the last one
    stored is what the hosts end up with. SQLite: an exclusive flock on a file beside the DB;
    PostgreSQL: a session advisory lock on a connection of its own, held until exit."""

    def __init__(self, state: Location | Path, on_wait: Callable[[str], None] | None = None):
        self.location = Location.of(state)
        self.on_wait = on_wait
        self._fd: int | None = None
        self._release: Callable[[], None] | None = None

    def __enter__(self) -> ApplyLock:
        if self.location.path is None:
            self._release = self._postgres_lock()
            return self
        path = self.location.side_file("apply.lock")
        fd = _open_lock(path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if self.on_wait is not None:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
                self.on_wait(self._waiting(holder))
            fcntl.flock(fd, fcntl.LOCK_EX)
        _write_pid(path, fd)
        self._fd = fd
        return self

    @staticmethod
    def _waiting(holder: str) -> str:
        return f"waiting for another axis apply (pid {holder}) on this state DB to finish"

    def _postgres_lock(self) -> Callable[[], None]:
        """Take the advisory lock (waiting, and saying so, while another apply holds it) on a
        connection of its own; what lets it go (closing that connection)."""
        session = LockSession(self.location, f"{_APPLY_NAME}{os.getpid()}")
        if not session.scalar(f"SELECT pg_try_advisory_lock({APPLY_LOCK_KEY})"):
            if self.on_wait is not None:
                holder = str(session.scalar(holders_sql(APPLY_LOCK_KEY, "a.application_name")) or "")
                self.on_wait(self._waiting(holder.removeprefix(_APPLY_NAME) if holder.startswith(_APPLY_NAME)
                                           else "unknown"))
            session.scalar(f"SELECT pg_advisory_lock({APPLY_LOCK_KEY})")
        return session.close  # a session advisory lock ends with its session

    def __exit__(self, *_exc: object) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._release is not None:
            self._release()
            self._release = None
