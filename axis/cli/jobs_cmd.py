"""`axis logs CLAIM [-f]` and `axis stop CLAIM`: the output and the end of a claim's detached job
(started by `axis exec --detach`)."""

from __future__ import annotations

import sys
import time

import typer

from axis.app.context import AppError
from axis.app.jobs import job_logs, stop
from axis.cli.completion import claim_names
from axis.cli.context import app_context
from axis.cli.output import stream
from axis.hostcmd.claim_exec import ExecRefused


def logs(
    ctx: typer.Context,
    claim: str = typer.Argument(..., help="a claim that ran a detached job", autocompletion=claim_names),
    follow: bool = typer.Option(False, "-f", "--follow", help="keep streaming until the job ends"),
) -> None:
    """Print the output (stdout and stderr together) of the claim's newest detached job."""
    try:
        code = job_logs(app_context(ctx), claim, follow=follow, on_output=stream)
    except ExecRefused as exc:
        raise AppError(str(exc)) from exc
    raise typer.Exit(code)


def stop_(ctx: typer.Context, claim: str = typer.Argument(..., help="a claim whose detached job runs", autocompletion=claim_names)) -> None:
    """Stop the claim's running detached job (TERM, then KILL after a grace); its lease is released."""
    try:
        ending = stop(app_context(ctx), claim, clock=time.time)
    except ExecRefused as exc:
        raise AppError(str(exc)) from exc
    if ending is None:
        print(f"claim/{claim}: stop sent but the job still runs; the controller records its end", file=sys.stderr)
        raise typer.Exit(1)
    typer.echo(f"claim/{claim} {ending.state}: {ending.message}")
