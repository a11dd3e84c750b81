"""`axis controller --watch PATH` or `axis controller --git URL`: run the reconcile loop until
SIGTERM/SIGINT, its desired state a spec path on this machine or a branch or tag of a git remote.

The first signal stops taking work and lets the steps in flight finish; a second one cancels
them (every file write is atomic, so even then no file is left half-written).

Exit status: 0 when it stopped with every part healthy; 1 when a part was failing then (each is
named in the log), or when the loop itself broke; 130 when a second signal cancelled steps.
"""

from __future__ import annotations

import asyncio
import os
import contextlib
import logging
from pathlib import Path

import typer

from axis.app.context import AppContext, AppError
from axis.app.controller_start import exit_status, make_controller, run_controller, stop_on_signals
from axis.app.git_source import git_source
from axis.app.log_output import LogFormat, log_to_stderr
from axis.cli.context import app_context
from axis.reconcile.controller import Controller

logger = logging.getLogger(__name__)


def controller(
    ctx: typer.Context,
    watch: Path | None = typer.Option(None, "--watch", "-w", help="spec directory (or file) to watch and apply"),
    git: str | None = typer.Option(None, "--git", help="git remote to follow instead (ssh://, https://, file://); "
                                   "an https password or token goes in $AXIS_GIT_PASSWORD"),
    ref: str = typer.Option("main", "--ref", help="with --git: the branch or tag to follow"),
    path: str = typer.Option(".", "--path", help="with --git: the spec directory inside the repository"),
    interval: str = typer.Option("1m", "--interval", help="with --git: ask the remote this often (±10%)"),
    name: str | None = typer.Option(None, "--name", help="with --git: the source's name (default: the repo's)"),
    verify_signatures: Path | None = typer.Option(
        None, "--verify-signatures", metavar="ALLOWED_SIGNERS",
        help="with --git: apply only commits signed by a key in this allowed-signers file (git's SSH signatures)"),
    resync: str = typer.Option("60s", "--resync", help="re-observe every host this often (drift repair)"),
    jobs: int = typer.Option(16, "--jobs", "-j", min=1, help="hosts reconciled at once"),
    lease: str = typer.Option("15s", "--lease", help="how long this controller's hold on its hosts lasts unrenewed "
                              "(renewed every third of it); a dead controller's hosts move within twice this"),
    log_format: LogFormat = typer.Option(LogFormat.human, "--log-format",
                                         help="log lines: human (timestamped text) or json (one object per line)"),
) -> None:
    """Watch the specs (or follow a git branch) and keep every host converged and every claim placed."""
    app = app_context(ctx)
    if (watch is None) == (git is None):
        raise AppError("give either --watch PATH or --git URL")
    log_to_stderr(log_format, debug=app.debug)
    desired = watch if git is None else git_source(app, git, ref=ref, path=path, interval=interval, name=name,
                                                   allowed_signers=verify_signatures,
                                                   password=os.environ.get("AXIS_GIT_PASSWORD"))
    assert desired is not None
    with contextlib.ExitStack() as stack:
        loop = make_controller(app, desired, resync, jobs, stack, lease=lease)
        try:
            failing = asyncio.run(_run(app, loop))
        except asyncio.CancelledError:
            logger.warning("cancelled the steps in flight")
            raise typer.Exit(130) from None
        except Exception:  # the loop itself broke; it logged why with the exception's type
            raise typer.Exit(1) from None
    if status := exit_status(failing):
        raise typer.Exit(status)


async def _run(app: AppContext, controller: Controller) -> list[str]:
    stop = asyncio.Event()
    stop_on_signals(stop, first=lambda: logger.info(
        "signal received: finishing the steps in flight (signal again to cancel them)"))
    return await run_controller(app, controller, stop)
