"""`axis clean HOST|all [--deep] [--dry-run]`: free disk space now, like pool's `clean`.

Each host gets the very script the diskCleanup feature installs as its daily cron job
(`axis.drivers.features.cleanup_script`), sent over stdin and run as root through the host's
sudo rule, with that host's effective diskCleanup settings (the defaults when it has none).
One connection per host, hosts at once up to `--jobs`; `--timeout` is a deadline for the whole
batch, as in `axis on`. A host that fails (unreachable, sudo wants a password, a step refused)
fails alone with its reason; the exit code is 1 if any host failed or a step on it failed.
`all` leaves out hosts with `fanout: false`; naming such a host cleans it.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import Any

import typer

from axis.cli.completion import fanout_targets
from axis.cli.context import app_context
from axis.cli.output import Format, emit, print_table
from axis.cli.progress import fleet_progress
from axis.cli.targets import select_hosts
from axis.drivers.fan_out import fan_out
from axis.hostcmd.clean import HostClean, clean_host, host_settings
from axis.specs.units import human_size
from axis.state.stored_specs import snapshot_hosts


def clean(
    ctx: typer.Context,
    target: str = typer.Argument(..., help="a host name, or `all` (hosts with fanout: true)",
                                autocompletion=fanout_targets),
    selector: str | None = typer.Option(None, "-l", "--selector", help="only hosts whose labels match"),
    deep: bool = typer.Option(False, "--deep", help="also the deep tier (model/build caches, docker prune) "
                                                    "whatever the disk usage"),
    dry_run: bool = typer.Option(False, "--dry-run", help="list what each tier would remove; delete nothing"),
    jobs: int = typer.Option(16, "--jobs", "-j", min=1, help="hosts at once"),
    timeout: float = typer.Option(900.0, "--timeout", min=0.1, help="seconds for the whole batch"),
    output: Format = typer.Option(Format.table, "-o", "--output",
                                  help="table (wide: every step), json or yaml"),
) -> None:
    """Run the disk clean-up now on one host or every host and report the space freed."""
    app = app_context(ctx)
    with app.snapshot() as snap:
        stored, profiles = snapshot_hosts(snap)
    selection = select_hosts(stored, target, selector)
    hosts = selection.hosts
    settings = {h.metadata.name: host_settings(h, profiles) for h in hosts}

    async def batch(tick: Callable[[], None]) -> list[HostClean]:
        deadline = asyncio.get_running_loop().time() + timeout
        return await fan_out(
            hosts, lambda h: clean_host(h, app.connector, settings[h.metadata.name], deep=deep, dry_run=dry_run,
                                        deadline=deadline),
            jobs=jobs, on_done=lambda _h, _r: tick())

    with fleet_progress(len(hosts), "cleaning") as tick:
        results = asyncio.run(batch(tick))
    if output in (Format.json, Format.yaml):
        emit([_data(r, dry_run) for r in results], output)
    else:
        if dry_run or output == Format.wide:
            _print_steps(results)
        _print_summary(results, dry_run, wide=output == Format.wide)
    if note := selection.left_out_note("clean"):  # on stderr in every output mode
        print(note, file=sys.stderr)
    if any(r.failed for r in results):
        raise typer.Exit(1)


def _tiers(r: HostClean) -> str | None:
    rep = r.report
    if not rep.complete or rep.not_applicable:
        return None
    if rep.deep_reason == "flag":
        return "safe+deep (--deep)"
    if rep.deep_reason == "disk":
        return f"safe+deep (disk {rep.used_percent}% >= {r.settings.deep_at_percent}%)"
    return "safe"


def _freed(r: HostClean, dry_run: bool) -> str | None:
    rep = r.report
    if not rep.complete or rep.not_applicable:
        return None
    return f"~{human_size(rep.estimate)}" if dry_run else human_size(rep.freed)


def _status(r: HostClean) -> str:
    return f"{r.status}: {r.reason}" if r.reason else r.status


def _print_summary(results: list[HostClean], dry_run: bool, *, wide: bool) -> None:
    headers = ["HOST", "TIERS", "WOULD FREE" if dry_run else "FREED", "STATUS"]
    if wide:
        headers[3:3] = ["DISK USED", "BEFORE", "AFTER", "RETENTION"]
    rows = []
    for r in results:
        row: list[Any] = [r.host, _tiers(r), _freed(r, dry_run), _status(r)]
        if wide:
            rep = r.report
            row[3:3] = [f"{rep.used_percent}%" if rep.used_percent is not None else None,
                        human_size(rep.before) if rep.before is not None else None,
                        human_size(rep.after) if rep.after is not None else None,
                        f"{r.settings.retention_days}d"]
        rows.append(row)
    print_table(headers, rows)


def _print_steps(results: list[HostClean]) -> None:
    rows = []
    for r in results:
        for s in r.report.steps:
            rows.append([r.host, s.tier, s.name, s.files, human_size(s.bytes) if s.bytes is not None else None,
                         s.dirs, s.result])
    if rows:
        print_table(["HOST", "TIER", "STEP", "FILES", "SIZE", "EMPTY DIRS", "RESULT"], rows)
        print()


def _data(r: HostClean, dry_run: bool) -> dict[str, Any]:
    rep = r.report
    return {
        "host": r.host, "status": r.status, "reason": r.reason or None, "dryRun": dry_run,
        "settings": r.settings.model_dump(mode="json", by_alias=True),
        "tiers": ["safe", "deep"] if rep.deep else (["safe"] if rep.complete and not rep.not_applicable else []),
        "deepReason": rep.deep_reason if rep.deep else None,
        "usedPercent": rep.used_percent, "beforeBytes": rep.before, "afterBytes": rep.after,
        "freedBytes": rep.freed if rep.complete else None, "estimateBytes": rep.estimate if rep.complete else None,
        "steps": [s.to_data() for s in rep.steps], "errors": rep.errors,
    }
