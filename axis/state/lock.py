"""One controller per state DB: an exclusive flock on a file beside the DB.

The lock dies with the process (kill -9 included), so a crashed controller never blocks the
next one; the holder's pid is written into the file only to make the refusal message useful.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from axis.state.db import os_error


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
    def __init__(self, db_path: Path):
        self.path = db_path.with_name(db_path.name + ".controller.lock")
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
    since: float  # when it took the lock: the lock file's mtime, its pid being written right then


def controller_holder(db_path: Path) -> Holder | None:
    """The controller reconciling this state DB now, or None when there is none (never started,
    stopped, or killed: the flock dies with the process, whatever it left in the DB).

    A shared, non-blocking flock on the controller's lock file fails only while a controller
    holds it (in this process too: flock conflicts between open files, not processes)."""
    path = db_path.with_name(db_path.name + ".controller.lock")
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


def controller_pid(db_path: Path) -> str | None:
    """The pid of the controller reconciling this state DB, or None when there is none."""
    holder = controller_holder(db_path)
    return holder.pid if holder is not None else None


class ApplyLock:
    """One `axis apply` (or API apply) at a time per state DB: an exclusive flock on a file beside
    the DB, waited for, not refused. Two applies that both store and converge at once would race
    on the same hosts (each seeing the other's writes as a failed step); one after the other,
    each finishes cleanly and the last one stored is what the hosts end up with. Dies with the
    process, like the controller lock."""

    def __init__(self, db_path: Path, on_wait: Callable[[str], None] | None = None):
        self.path = db_path.with_name(db_path.name + ".apply.lock")
        self.on_wait = on_wait
        self._fd: int | None = None

    def __enter__(self) -> ApplyLock:
        fd = _open_lock(self.path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if self.on_wait is not None:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
                self.on_wait(f"waiting for another axis apply (pid {holder}) on this state DB to finish")
            fcntl.flock(fd, fcntl.LOCK_EX)
        _write_pid(self.path, fd)
        self._fd = fd
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
