"""`axis apply`, `axis diff` and `POST /apply`: one path from loaded specs to converged hosts.

Apply takes the state DB's apply lock itself (one apply at a time, whichever front end asked),
stores the objects in one transaction (`axis.reconcile.apply_pass.store`: nothing at all if any
document is invalid), then converges the hosts they concern, binds pending claims and records
their conditions (`finish`) — or hands the hosts to the controller running on the state DB.
A plan (`axis diff`) stores as a dry run, which is rolled back, and takes no lock.

The SSH work runs on an event loop of its own, so callers are synchronous: the HTTP handler runs
an apply in a worker thread, and a long converge never holds up other requests.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Protocol

from axis.app.context import AppContext
from axis.reconcile.apply_pass import Applied, Stored, finish, store
from axis.specs.models import Loaded
from axis.state.lock import ApplyLock, controller_pid


class Progress(Protocol):
    """A progress display for `total` hosts under `label`: a context whose value is called once
    per finished host (the command line's `fleet_progress`; servers show none)."""

    def __call__(self, total: int, label: str) -> AbstractContextManager[Callable[[], None]]: ...


@contextlib.contextmanager
def no_progress(total: int, label: str) -> Iterator[Callable[[], None]]:
    yield lambda: None


def apply_specs(app: AppContext, loaded: list[Loaded], *, apply_sets: list[str] | None = None, prune: bool = False,
                dry_run: bool = False, converge: bool = True, jobs: int = 16,
                on_wait: Callable[[str], None] | None = None, progress: Progress = no_progress) -> Applied:
    """Store `loaded` and act on it under the apply lock (`on_wait` hears while another apply
    holds it); SpecErrors were raised by the loader before, so nothing invalid gets here."""
    with ApplyLock(app.state, on_wait=on_wait):  # serialised with every other apply on this state DB
        stored = store(app.db(), loaded, apply_sets=apply_sets, prune=prune, dry_run=dry_run, converge=converge,
                       controller=controller_pid(app.state))
        return _finish(app, stored, jobs=jobs, progress=progress)


def plan_specs(app: AppContext, loaded: list[Loaded], *, apply_sets: list[str] | None = None, jobs: int = 16,
               progress: Progress = no_progress) -> Applied:
    """What `apply_specs` would do on every host: the state as it would be after the apply, then
    rolled back; nothing on a host is touched."""
    return _finish(app, store(app.db(), loaded, apply_sets=apply_sets, dry_run=True), jobs=jobs, progress=progress)


def _finish(app: AppContext, stored: Stored, *, jobs: int, progress: Progress) -> Applied:
    label = "planning" if stored.dry_run else "converging"
    with progress(len(stored.work), label) as tick:
        return asyncio.run(finish(app.db(), app.connector, stored, jobs=jobs, on_done=lambda _o: tick()))
