"""Starting the reconcile loop on a state DB (`axis controller`, `axis serve --watch`), and the
exit status it leaves behind."""

from __future__ import annotations

import contextlib
from pathlib import Path

from axis.app.context import AppContext, AppError
from axis.app.log_lines import log_line, log_to_stderr
from axis.reconcile.controller import Controller
from axis.specs.units import parse_duration
from axis.state.lock import ApplyLock, ControllerLock, LockHeld


def make_controller(app: AppContext, watch: Path, resync: str, jobs: int, stack: contextlib.ExitStack) -> Controller:
    """The loop, holding the one-controller-per-DB lock until `stack` closes (also `axis serve --watch`)."""
    log_to_stderr(debug=app.debug)
    if not watch.exists():
        raise AppError(f"{watch}: no such file or directory")
    try:
        every = parse_duration(resync)
    except ValueError as exc:
        raise AppError(f"--resync: {exc}") from exc
    try:
        stack.enter_context(ControllerLock(app.state))
    except LockHeld as exc:
        raise AppError(str(exc)) from exc
    loop = Controller(app.db(), app.connector, watch, resync=float(every), jobs=jobs, log=log_line)
    # An apply that started before the lock above converges its hosts itself: wait for it, then
    # store the watched specs; every apply from now on sees the controller and hands over to it.
    with ApplyLock(app.state, on_wait=log_line):
        loop.load_watched()
    log_line(f"controller watching {watch} (resync {every}s, {jobs} at once, state {app.state})")
    return loop


def exit_status(failing: list[str] | None) -> int:
    """1 when parts of the loop were failing as it stopped (saying which), else 0: a supervised
    controller that was crash-looping must not look like a clean stop to whatever restarts it."""
    if failing:
        log_line("exit status 1: failing when stopped: " + "; ".join(failing))
    return 1 if failing else 0
