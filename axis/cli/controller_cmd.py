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
from pathlib import Path

import typer

from axis.app.controller_start import exit_status, make_controller, stop_on_signals
from axis.app.log_output import LogFormat, log_to_stderr
from axis.cli.context import app_context
from axis.reconcile.controller import Controller

logger = logging.getLogger(__name__)


def controller(
    ctx: typer.Context,
    watch: Path = typer.Option(..., "--watch", "-w", help="spec directory (or file) to watch and apply"),
    resync: str = typer.Option("60s", "--resync", help="re-observe every host this often (drift repair)"),
    jobs: int = typer.Option(16, "--jobs", "-j", min=1, help="hosts reconciled at once"),
    log_format: LogFormat = typer.Option(LogFormat.human, "--log-format",
                                         help="log lines: human (timestamped text) or json (one object per line)"),
) -> None:
    """Watch the specs and keep every host converged and every claim placed."""
    app = app_context(ctx)
    log_to_stderr(log_format, debug=app.debug)
    with contextlib.ExitStack() as stack:
        loop = make_controller(app, watch, resync, jobs, stack)
        try:
            failing = asyncio.run(_run(loop))
        except asyncio.CancelledError:
            logger.warning("cancelled the steps in flight")
            raise typer.Exit(130) from None
        except Exception:  # the loop itself broke; it logged why with the exception's type
            raise typer.Exit(1) from None
    if status := exit_status(failing):
        raise typer.Exit(status)


async def _run(controller: Controller) -> list[str]:
    stop = asyncio.Event()
    stop_on_signals(stop, first=lambda: logger.info(
        "signal received: finishing the steps in flight (signal again to cancel them)"))
    return await controller.run(stop)
