"""The leader's watcher: the git follower or the spec path's watcher, which keeps the desired
state current and runs only while this controller leads (`Controller._lead` starts it when the
controller becomes the leader and ends it when it no longer is; the controller runs on).

Each run gets its own stop event, set to end it. The controller's `stop` is never handed to
the watcher: watchfiles' `awatch` sets the event it was given when it is cancelled, and the
controller's `stop` set that way would end the whole controller (exit 0), not only the watcher.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from axis.reconcile.supervisor import ended


class LeaderWatch:
    def __init__(self, run: Callable[[asyncio.Event], Coroutine[Any, Any, None]], what: str):
        """`run(stop)`: the watcher, supervised, until `stop`; `what` names it in a failure."""
        self._run, self.what = run, what
        self.task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    @property
    def running(self) -> bool:
        return self.task is not None

    def start(self) -> None:
        self._stop = asyncio.Event()
        self.task = asyncio.create_task(self._run(self._stop))

    def end(self) -> asyncio.Task[None] | None:
        """End the run (its own stop, then cancelled: a git fetch in flight ends now); the task,
        for the caller to await when it must."""
        task, self.task = self.task, None
        if task is not None:
            self._stop.set()
            task.cancel()
        return task

    def check(self) -> None:
        """It restarts itself forever: a run that ended by itself means its supervision broke."""
        if self.task is not None and self.task.done():
            raise RuntimeError(f"the {self.what}'s supervisor ended: {ended(self.task)}")
