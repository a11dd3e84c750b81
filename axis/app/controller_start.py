"""Starting the reconcile loop on a state DB (`axis controller`, `axis serve --watch`), stopping it
on signals, and the exit status it leaves behind. The front end has sent the log to stderr
(`axis.app.log_output`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from pathlib import Path

from axis.app.context import AppContext, AppError
from axis.app.controller_socket import serving
from axis.drivers.pool import ConnectionPool
from axis.reconcile.controller import Controller
from axis.reconcile.git_follow import GitSource
from axis.reconcile.membership import Membership
from axis.specs.units import parse_duration
from axis.state.lock import ApplyLock, ControllerLock, LockHeld
from axis.state.pg_locks import ControllerPresence

logger = logging.getLogger(__name__)

MIN_LEASE, MAX_LEASE = 3.0, 3600.0
#: A host's kept connection (`axis.drivers.pool`) closes after this long unused, or after two
#: resync periods when that is longer: a connection outlives the wait between two passes.
IDLE_CLOSE = 300.0


def make_controller(app: AppContext, desired: Path | GitSource, resync: str, jobs: int,
                    stack: contextlib.ExitStack, *, lease: str = "15s") -> Controller:
    """The loop on a watched spec path or a followed git source, holding the one-controller-per-DB
    lock (SQLite) until `stack` closes (also `axis serve --watch`). `lease`: how long what a
    membership tick grants lasts (`axis.reconcile.membership`). The loop's passes and job watch
    share one kept connection per host (a `ConnectionPool` over the app's connector, closed when
    the loop stops), so a resync pass runs its command without a new SSH handshake."""
    if isinstance(desired, Path) and not desired.exists():
        raise AppError(f"{desired}: no such file or directory")
    try:
        every = parse_duration(resync)
    except ValueError as exc:
        raise AppError(f"--resync: {exc}") from exc
    seconds = lease_seconds(lease)
    sole = app.state.backend == "sqlite"  # on PostgreSQL many controllers share the hosts
    membership = Membership(app.db(), lease=seconds, sole=sole)
    if sole:
        try:
            stack.enter_context(ControllerLock(app.state))
        except LockHeld as exc:
            raise AppError(str(exc)) from exc
    else:
        membership.presence = stack.enter_context(ControllerPresence(app.state)).ensure
    pool = ConnectionPool(app.connector, idle_close=max(IDLE_CLOSE, 2.0 * every))
    if isinstance(desired, Path):
        loop = Controller(app.db(), pool, desired, resync=float(every), jobs=jobs, membership=membership)
    else:
        loop = Controller(app.db(), pool, None, follow=desired, resync=float(every), jobs=jobs,
                          membership=membership)
    # An apply that started before the lock above converges its hosts itself: wait for it, then
    # store the watched specs; every apply from now on sees the controller and hands over to it.
    with ApplyLock(app.state, on_wait=logger.info):
        loop.load_watched()
    if isinstance(desired, Path):
        logger.info("controller watching %s (resync %ss, %d at once, state %s)", desired, every, jobs, app.state,
                    extra={"watch": str(desired), "resync": every, "jobs": jobs, "state": str(app.state)})
    else:
        url = desired.remote.display_url()
        logger.info("controller following %s %s path %s every %ss as source %s (resync %ss, %d at once, state %s)",
                    url, desired.remote.ref, desired.path, desired.interval, desired.name, every, jobs, app.state,
                    extra={"git": url, "ref": desired.remote.ref, "path": desired.path, "interval": desired.interval,
                           "source": desired.name, "resync": every, "jobs": jobs, "state": str(app.state)})
    return loop


async def run_controller(app: AppContext, controller: Controller, stop: asyncio.Event) -> list[str]:
    """`controller.run(stop)` with the local socket served beside it, on the same loop and with the
    connector its passes use, so that the command line's `status`, `on`, `diff` and `exec` on
    this state DB use the controller's connections (`axis.app.controller_socket`); the socket
    file is gone and the kept connections closed once this returns."""
    try:
        async with serving(app, controller.db, controller.connector):
            return await controller.run(stop)
    finally:  # after the socket: a relayed call in flight ends cancelled, not on a closed pool
        if isinstance(controller.connector, ConnectionPool):
            await controller.connector.aclose()


def lease_seconds(lease: str) -> float:
    """`--lease`, checked: a tick runs every third of it, so at least 3 s; at most an hour, since
    a killed controller's hosts wait up to twice the lease for another controller."""
    try:
        seconds = float(parse_duration(lease))
    except ValueError as exc:
        raise AppError(f"--lease: {exc}") from exc
    if not MIN_LEASE <= seconds <= MAX_LEASE:
        raise AppError(f"--lease: {lease} is outside {MIN_LEASE:g}s..{MAX_LEASE / 3600:g}h")
    return seconds


def exit_status(failing: list[str] | None) -> int:
    """1 when parts of the loop were failing as it stopped (saying which), else 0: a supervised
    controller that was crash-looping must not look like a clean stop to whatever restarts it."""
    if failing:
        logger.error("exit status 1: failing when stopped: %s", "; ".join(failing),
                     extra={"exit_status": 1, "failing": failing})
    return 1 if failing else 0


def stop_on_signals(stop: asyncio.Event, *, first: Callable[[], None],
                    second: Callable[[], None] = lambda: None) -> None:
    """SIGTERM and SIGINT stop the calling task's work in two steps, as `axis controller` and
    `axis serve` both promise: the first (`first()`, then `stop` set) lets steps in flight finish;
    one arriving once `stop` is set (`second()`, then the task cancelled) stops waiting for them.
    Call it from the task to cancel, on its running loop."""
    main = asyncio.current_task()

    def on_signal() -> None:
        if stop.is_set():
            second()
            if main is not None:
                main.cancel()
            return
        first()
        stop.set()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
