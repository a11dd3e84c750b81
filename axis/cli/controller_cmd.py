"""`axis controller --watch PATH`: run the reconcile loop until SIGTERM/SIGINT.

The first signal stops taking work and lets the steps in flight finish; a second one cancels
them (every file write is atomic, so even then no file is left half-written).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from pathlib import Path

import typer

from axis.cli.context import AppContext, CliError, app_context
from axis.reconciler.controller import Controller
from axis.specs.units import parse_duration
from axis.state.lock import ApplyLock, ControllerLock, LockHeld


def controller(
    ctx: typer.Context,
    watch: Path = typer.Option(..., "--watch", "-w", help="spec directory (or file) to watch and apply"),
    resync: str = typer.Option("60s", "--resync", help="re-observe every host this often (drift repair)"),
    jobs: int = typer.Option(16, "--jobs", "-j", min=1, help="hosts reconciled at once"),
) -> None:
    """Watch the specs and keep every host converged and every claim placed."""
    app = app_context(ctx)
    with contextlib.ExitStack() as stack:
        asyncio.run(_run(make_controller(app, watch, resync, jobs, stack)))


def make_controller(app: AppContext, watch: Path, resync: str, jobs: int, stack: contextlib.ExitStack) -> Controller:
    """The loop, holding the one-controller-per-DB lock until `stack` closes (also `axis serve --watch`)."""
    if not watch.exists():
        raise CliError(f"{watch}: no such file or directory")
    try:
        every = parse_duration(resync)
    except ValueError as exc:
        raise CliError(f"--resync: {exc}") from exc
    try:
        stack.enter_context(ControllerLock(app.state))
    except LockHeld as exc:
        raise CliError(str(exc)) from exc
    loop = Controller(app.db(), app.ssh, watch, resync=float(every), jobs=jobs, log=log_line)
    # An apply that started before the lock above converges its hosts itself: wait for it, then
    # store the watched specs; every apply from now on sees the controller and hands over to it.
    with ApplyLock(app.state, on_wait=log_line):
        loop.apply_specs()
    log_line(f"controller watching {watch} (resync {every}s, {jobs} at once, state {app.state})")
    return loop


async def _run(controller: Controller) -> None:
    stop = asyncio.Event()
    main = asyncio.current_task()
    signals = 0

    def on_signal() -> None:
        nonlocal signals
        signals += 1
        if signals == 1:
            log_line("signal received: finishing the steps in flight (signal again to cancel them)")
            stop.set()
        elif main is not None:
            main.cancel()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    await controller.run(stop)


def log_line(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)
