"""`axis diff -f PATH`: what `axis apply` would change on every host, Terraform-style exit codes.

0: nothing would change · 2: changes pending · 1: an error (bad spec, a host that cannot be
observed). Nothing is stored and nothing on a host is touched.
"""

from __future__ import annotations

from pathlib import Path

import typer

from axis.app.applied import outcomes_data
from axis.app.apply import plan_specs
from axis.cli.context import app_context
from axis.cli.output import Format, emit
from axis.cli.plan_view import print_diff
from axis.cli.progress import fleet_progress
from axis.specs.loader import load_specs

EXIT_PENDING = 2


def diff(
    ctx: typer.Context,
    filename: list[Path] = typer.Option(..., "-f", "--filename", help="spec file or directory (repeatable)"),
    jobs: int = typer.Option(16, "--jobs", "-j", min=1, help="hosts observed at once"),
    output: Format = typer.Option(Format.table, "-o", "--output", help="table, json or yaml"),
) -> None:
    """Show the steps `axis apply` would run on each host; exit 0 none, 2 pending, 1 error."""
    app = app_context(ctx)
    loaded = load_specs(filename)
    outcomes = plan_specs(app, loaded, apply_sets=[str(p.resolve()) for p in filename], jobs=jobs,
                          progress=fleet_progress).outcomes
    if output in (Format.json, Format.yaml):
        emit(outcomes_data(outcomes), output)
    else:
        print_diff(outcomes)
    report_exit(outcomes)


def report_exit(outcomes: list) -> None:
    """1 if any host failed, else 2 if any change is pending, else 0."""
    if any(o.status == "failed" for o in outcomes):
        raise typer.Exit(1)
    if any(o.status == "pending" for o in outcomes):
        raise typer.Exit(EXIT_PENDING)
