"""`axis on HOST|all -- CMD`: an ad-hoc command on one host or a fan-out, like pool's `on all`.

Output lines are prefixed `[name]` as they arrive (stderr lines go to stderr), then one status
line per host. `--timeout` is a deadline for the whole batch, as in pool: a host still running
then is killed and gets exit 124. The exit code is the worst host's (0 only if all succeeded).
"""

from __future__ import annotations

import asyncio
import shlex
import sys
import time
from collections.abc import Callable

import typer

from axis.app.context import AppError
from axis.cli.completion import fanout_targets
from axis.cli.context import app_context
from axis.cli.controller_path import host_connector
from axis.cli.output import Format, emit
from axis.cli.progress import fleet_progress
from axis.cli.targets import select_hosts
from axis.drivers.fan_out import fan_out
from axis.hostcmd.command import CommandOutcome, run_command
from axis.specs import Host
from axis.state.stored_specs import snapshot_hosts


def on(
    ctx: typer.Context,
    target: str = typer.Argument(..., help="a host name, or `all` (hosts with fanout: true)",
                                autocompletion=fanout_targets),
    command: list[str] = typer.Argument(..., help="the command, after `--`; one argument is a shell line, "
                                                  "several are quoted exactly as given"),
    selector: str | None = typer.Option(None, "-l", "--selector", help="only hosts whose labels match"),
    jobs: int = typer.Option(16, "--jobs", "-j", min=1, help="hosts at once"),
    timeout: float = typer.Option(300.0, "--timeout", min=0.1, help="seconds for the whole batch"),
    output: Format = typer.Option(Format.table, "-o", "--output",
                                  help="table: stream prefixed lines; json/yaml: collected per host"),
) -> None:
    """Run a command on one host or on every host, output prefixed by host name."""
    app = app_context(ctx)
    with app.snapshot() as snap:
        selection = select_hosts(snapshot_hosts(snap)[0], target, selector)
    hosts = selection.hosts
    line = command[0] if len(command) == 1 else shlex.join(command)
    if not line.strip():
        raise AppError("empty command")
    streaming = output in (Format.table, Format.wide)
    width = max(len(h.metadata.name) for h in hosts)

    printers = {h.metadata.name: _Prefixer(h.metadata.name, width) for h in hosts}
    connector = host_connector(app)

    def done(host: Host, tick: Callable[[], None]) -> None:
        printers[host.metadata.name].flush()
        tick()

    async def batch(tick: Callable[[], None]) -> list[CommandOutcome]:
        deadline = asyncio.get_running_loop().time() + timeout
        return await fan_out(
            hosts, lambda h: run_command(h, connector, line, deadline=deadline,
                                         on_output=printers[h.metadata.name] if streaming else None),
            jobs=jobs, on_done=lambda h, _o: done(h, tick))

    started = time.monotonic()
    with fleet_progress(len(hosts), "running") as tick:
        outcomes = asyncio.run(batch(tick))
    worst = max((o.exit_status for o in outcomes), default=0)
    if not streaming:  # the hosts run, only: `jq 'select(.exitStatus != 0)'` reads no left-out host
        emit([{"host": o.host, "exitStatus": o.exit_status, "stdout": o.stdout, "stderr": o.stderr,
               "error": o.error} for o in outcomes], output)
    else:
        _summary(outcomes, width, time.monotonic() - started)
    if note := selection.left_out_note("on"):  # on stderr in every output mode
        print(note, file=sys.stderr)
    if worst:
        raise typer.Exit(worst)


class _Prefixer:
    """Prefix every complete line with `[name]`; a partial line waits for its newline (or flush)."""

    def __init__(self, name: str, width: int):
        self._prefix = f"[{name}]".ljust(width + 2)
        self._pending = {"stdout": "", "stderr": ""}

    def __call__(self, stream: str, text: str) -> None:
        lines = (self._pending[stream] + text).split("\n")
        self._pending[stream] = lines.pop()
        out = sys.stdout if stream == "stdout" else sys.stderr
        for line in lines:
            print(f"{self._prefix} {line}", file=out, flush=True)

    def flush(self) -> None:
        for stream, rest in self._pending.items():
            if rest:
                self(stream, "\n")


def _summary(outcomes: list[CommandOutcome], width: int, seconds: float) -> None:
    failed = [o for o in outcomes if o.exit_status]
    for o in outcomes:
        state = "ok" if not o.exit_status else (o.error or f"exit {o.exit_status}")
        print(f"{o.host.ljust(width)}  {o.exit_status:>3}  {state}", file=sys.stderr)
    print(f"{len(outcomes) - len(failed)}/{len(outcomes)} hosts ok in {seconds:.1f}s", file=sys.stderr)
