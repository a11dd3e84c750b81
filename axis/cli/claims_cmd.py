"""`axis renew`, `axis release` and `axis exec` (`axis place` is `place_cmd`).

Every command reads the clock once and passes `now` down, so a command's decisions agree with
each other; `exec` passes the clock itself, because its lease renewals happen over time.
"""

from __future__ import annotations

import dataclasses
import shlex
import sys
import time
from typing import NoReturn

import typer

from axis.app.context import AppContext, AppError
from axis.app.jobs import start_job
from axis.app.operations import exec_on_claim
from axis.cli.completion import claim_names
from axis.cli.context import app_context
from axis.cli.controller_path import host_connector
from axis.cli.output import stream
from axis.drivers.transport import TransportError
from axis.hostcmd.claim_exec import ExecLost, ExecRefused
from axis.placement.ledger import LedgerError, release as release_lease, renew as renew_lease
from axis.specs.units import format_duration, human_size, parse_duration

#: `axis exec` exit codes when the command did not run to completion on the host (as `docker run`
#: and `ssh` use them), so a script can tell them from the command's own exit codes.
EXIT_NOT_STARTED = 125
EXIT_CONNECTION_LOST = 255


def renew(
    ctx: typer.Context,
    claim: str = typer.Argument(..., help="claim name", autocompletion=claim_names),
    ttl: str | None = typer.Option(None, "--ttl", help="new time to live from now, e.g. 30m [default: the claim's ttl]"),
) -> None:
    """Extend a claim's lease; an unbound claim (Pending, Expired, Released) is placed again now."""
    seconds = _duration(ttl)
    now = time.time()
    try:
        lease = renew_lease(app_context(ctx).db(), claim, now=now, ttl=seconds)
    except LedgerError as exc:
        raise AppError(str(exc)) from exc
    typer.echo(f"claim/{claim} bound to {lease.host} ({human_size(lease.memory_bytes)}), "
               f"expires in {format_duration(int(lease.expires - now))}")


def release(ctx: typer.Context, claim: str = typer.Argument(..., help="claim name", autocompletion=claim_names)) -> None:
    """Free a claim's lease now; the claim stays Released until renewed or its spec changes."""
    try:
        lease = release_lease(app_context(ctx).db(), claim, now=time.time())
    except LedgerError as exc:
        raise AppError(str(exc)) from exc
    typer.echo(f"claim/{claim} released ({human_size(lease.memory_bytes)} on {lease.host} freed)")


def exec_(
    ctx: typer.Context,
    claim: str = typer.Argument(..., help="a bound claim", autocompletion=claim_names),
    command: list[str] = typer.Argument(..., help="the command, after `--`; one argument is a shell line, "
                                                  "several are quoted exactly as given"),
    force: bool = typer.Option(False, "--force", help="run even if the host's available memory is below the claim's"),
    no_cap: bool = typer.Option(False, "--no-cap", help="run without a memory cap (says so on stderr)"),
    detach: bool = typer.Option(False, "--detach", help="start it in the background on the host and return; "
                                                        "`axis logs`, `axis stop`; a controller keeps its lease"),
) -> None:
    """Run a command on the claim's host capped at the claim's memory, streaming its output and
    renewing the lease while it runs.

    The cap is a systemd unit's cgroup limit where the kernel enforces one, else axis's watchdog
    on the host (see `axis describe host`); a host that can do neither is refused unless --no-cap.
    Exit: the command's own code; 137 if it was killed for using more than the claim's memory;
    125 if it was not started (claim unbound, lease expired, too little memory, no cap possible,
    host unreachable); 255 if the connection was lost while it ran. With --detach: 0 once the job
    runs on the host, which outlives this command."""
    app = app_context(ctx)
    line = command[0] if len(command) == 1 else shlex.join(command)
    if not line.strip():
        raise AppError("empty command")
    app = dataclasses.replace(app, connector=host_connector(app))  # a running controller's connections
    if no_cap:
        print(f"axis: --no-cap: claim {claim}'s memory is not enforced; running without a cap",
              file=sys.stderr, flush=True)
    if detach:
        _detach(app, claim, line, force=force, no_cap=no_cap)
    try:
        result = exec_on_claim(app, claim, line, clock=time.time, force=force, on_output=stream, cap=not no_cap)
    except (ExecRefused, TransportError) as exc:
        _refuse(str(exc))
    except ExecLost as exc:
        print(f"error: connection lost while the command ran: {exc}", file=sys.stderr)
        raise typer.Exit(EXIT_CONNECTION_LOST) from exc
    if result.message:
        print(f"axis: {result.message}", file=sys.stderr)
    raise typer.Exit(result.exit_code)


def _detach(app: AppContext, claim: str, line: str, *, force: bool, no_cap: bool) -> NoReturn:
    """`axis exec --detach`: start the job, say which, exit 0 (125/255 as for a foreground exec)."""
    try:
        started = start_job(app, claim, line, clock=time.time, force=force, no_cap=no_cap)
    except (ExecRefused, TransportError) as exc:
        _refuse(str(exc))
    except ExecLost as exc:
        print(f"error: connection lost while the job started: {exc}", file=sys.stderr)
        raise typer.Exit(EXIT_CONNECTION_LOST) from exc
    typer.echo(f"job {started.job_id} started on {started.host} (detached; memory cap: {started.enforcement}): "
               f"`axis logs {claim} -f` follows it, `axis stop {claim}` ends it")
    if started.warning:
        print(f"warning: {started.warning}", file=sys.stderr)
    raise typer.Exit(0)


def _refuse(message: str) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    raise typer.Exit(EXIT_NOT_STARTED)


def _duration(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise AppError(f"--ttl: {exc}") from exc
