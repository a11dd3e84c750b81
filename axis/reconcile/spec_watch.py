"""The controller's spec watcher: a supervised file watch that re-applies the specs on every edit.

The watcher counts as running only once the restarted file watch is actually watching, and only
then re-reads the directory, so no edit is lost and no "Recovered" is claimed early; a watched
path that was deleted is the watcher's failure (`WatchPathMissing`), never an apply of an empty
spec. A watched directory renamed over (a spec directory swapped in) leaves inotify watching the
old, unlinked one: every tick compares the directory's (st_dev, st_ino) with the one the watch
started on and, on a change, the watch is restarted on the new one at once and re-reads it
(`WatchPathReplaced`: a Normal event `WatchRestarted`, not a failure). A watched single file is
watched through its parent directory, filtered to its name, so an editor's atomic save (write a
temp file, rename it over) is an ordinary change.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path

from watchfiles import Change as FileChange, DefaultFilter, awatch

from axis.reconcile.supervisor import Part, Supervisor, describe, restart_delay

#: watchfiles: wait for `step` ms of quiet, at most `debounce` ms, so a save storm is one change.
DEBOUNCE_MS, STEP_MS = 1600, 50
#: The file watch also reports every WATCH_TICK_MS without a change: its first report proves it is
#: watching (a restart is "Recovered" only then), and each one checks the watched path still exists.
WATCH_TICK_MS = 1000
#: A watcher that ran this long since its last restart counts as stable: its next crash is
#: restarted after the shortest delay again.
STABLE_AFTER = 60.0


class WatchPathMissing(Exception):
    """The watched spec path is gone (deleted or moved): the file watch cannot run, and re-reading
    would store an empty desired state. A failure of the watcher, reported under this reason."""

    reason = "WatchPathMissing"

    def __init__(self, path: Path):
        super().__init__(f"the watched path {path} does not exist (deleted or moved?); "
                         "the last good desired state stays in force")


class WatchPathReplaced(Exception):
    """The watched directory was renamed over: the file watch still on the old directory would
    hear nothing more. Not a failure: the watcher restarts on the new directory at once."""

    def __init__(self, path: Path):
        super().__init__(f"the watched path {path} was replaced (renamed over); watching the new one")


def _identity(path: Path) -> tuple[int, int] | None:
    """(st_dev, st_ino) of `path`, None when it is gone: what a rename over it changes."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


class SpecWatcher:
    """Watches `watch` and calls `on_change` (the controller's supervised spec apply) on each edit."""

    def __init__(self, watch: Path, supervisor: Supervisor, on_change: Callable[[], None]):
        self.watch, self.supervisor, self.on_change = watch, supervisor, on_change

    async def run(self, stop: asyncio.Event) -> None:
        """The spec watcher, restarted whenever it raises (after 1 s, doubling up to a minute;
        from the shortest delay again once it ran STABLE_AFTER seconds). A restart re-reads the
        directory once it is watching again, so an edit made while it was down is not missed.
        A replaced watched path (`WatchPathReplaced`) is restarted at once and is no failure:
        a Normal event, no backoff, the watcher's condition untouched."""
        crashes, relist = 0, False
        while not stop.is_set():
            started = time.monotonic()
            try:
                await self._watch(stop, relist=relist)
                if stop.is_set():
                    return
                raise RuntimeError("the file watcher ended by itself")
            except WatchPathReplaced as exc:
                relist = True
                self.supervisor.restarted(Part.WATCHER, "WatchRestarted", describe(exc, typed=False))
            except Exception as exc:
                crashes = 1 if time.monotonic() - started >= STABLE_AFTER else crashes + 1
                relist = True
                delay = restart_delay(crashes)
                self.supervisor.failed(Part.WATCHER, exc, attempt=crashes, retry_in=delay,
                                       reason=exc.reason if isinstance(exc, WatchPathMissing) else "")
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await stop.wait()

    def _target(self) -> tuple[Path, Callable[[FileChange, str], bool] | None]:
        """What inotify watches: the spec directory itself, or a single spec file's parent
        directory filtered to the file's name (a watch on the file itself would stay on the old
        inode after an atomic save and hear nothing more). A symlinked file is watched where it
        really lives (edits to it happen there); `_watch` restarts when the link points elsewhere."""
        if os.path.isdir(self.watch):
            return self.watch, DefaultFilter()
        target = os.path.realpath(self.watch)
        return Path(target).parent, lambda _change, changed: os.path.realpath(changed) == target

    async def _watch(self, stop: asyncio.Event, *, relist: bool) -> None:
        """Watch the spec path and apply it on every change. The first report of the file watch
        (a change, or WATCH_TICK_MS of quiet) proves it is watching: only then is the watcher
        healthy again and, after a restart (`relist`), the directory re-read. Every report checks
        that the watched directory is still the one the watch started on."""
        self._check()
        target, only = self._target()
        started_on, points_to = _identity(target), os.path.realpath(self.watch)
        watching = False
        async for changes in awatch(target, watch_filter=only, debounce=DEBOUNCE_MS, step=STEP_MS,
                                    stop_event=stop, yield_on_timeout=True, rust_timeout=WATCH_TICK_MS,
                                    recursive=target == self.watch):
            self._check()
            if _identity(target) != started_on or os.path.realpath(self.watch) != points_to:
                raise WatchPathReplaced(target)
            first, watching = not watching, True
            if first:
                self.supervisor.succeeded(Part.WATCHER)
            if changes or (first and relist):
                self.on_change()  # editors save atomically (delete + add): re-read everything

    def _check(self) -> None:
        if not os.path.exists(self.watch):
            raise WatchPathMissing(self.watch)
