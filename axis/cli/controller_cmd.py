"""`axis controller --watch PATH`: run the reconcile loop until SIGTERM/SIGINT.

The first signal stops taking work and lets the steps in flight finish; a second one cancels
them (every file write is atomic, so even then no file is left half-written).

Exit status: 0 when it stopped with every part healthy; 1 when a part was failing then (each is
named in the log), or when the loop itself broke; 130 when a second signal cancelled steps.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import time
from pathlib import Path

import typer

from axis.cli.context import AppContext, CliError, app_context
from axis.reconcile.controller import Controller
from axis.specs.text import visible
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
        loop = make_controller(app, watch, resync, jobs, stack)
        try:
            failing = asyncio.run(_run(loop))
        except asyncio.CancelledError:
            log_line("cancelled the steps in flight")
            raise typer.Exit(130) from None
        except Exception:  # the loop itself broke; it logged why with the exception's type
            raise typer.Exit(1) from None
    if status := exit_status(failing):
        raise typer.Exit(status)


def exit_status(failing: list[str] | None) -> int:
    """1 when parts of the loop were failing as it stopped (saying which), else 0: a supervised
    controller that was crash-looping must not look like a clean stop to whatever restarts it."""
    if failing:
        log_line("exit status 1: failing when stopped: " + "; ".join(failing))
    return 1 if failing else 0


def make_controller(app: AppContext, watch: Path, resync: str, jobs: int, stack: contextlib.ExitStack) -> Controller:
    """The loop, holding the one-controller-per-DB lock until `stack` closes (also `axis serve --watch`)."""
    log_to_stderr(debug=app.debug)
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
        loop.load_watched()
    log_line(f"controller watching {watch} (resync {every}s, {jobs} at once, state {app.state})")
    return loop


async def _run(controller: Controller) -> list[str]:
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
    return await controller.run(stop)


def log_line(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {visible(message)}", file=sys.stderr, flush=True)


class _StderrLines(logging.Handler):
    """Log records as `log_line`s, written to whatever `sys.stderr` is at the time."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            log_line(self.format(record))
        except Exception:
            self.handleError(record)


def log_to_stderr(*, debug: bool) -> None:
    """Send the `axis` loggers (the controller's supervision) to stderr beside the loop's own
    lines; with --debug, tracebacks too. Idempotent."""
    root = logging.getLogger("axis")
    if not any(isinstance(h, _StderrLines) for h in root.handlers):
        root.addHandler(_StderrLines())
    root.setLevel(logging.DEBUG if debug else logging.INFO)
