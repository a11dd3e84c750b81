"""`axis diff -f PATH`: what `axis apply` would change on every host, Terraform-style exit codes.

0: nothing would change · 2: changes pending · 1: an error (bad spec, a host that cannot be
observed), whatever `-o` says. Nothing is stored and nothing on a host is touched. `-o json|yaml`
print the versioned plan document (`axis.app.plan_document`, docs/plan-format.md), `-o markdown`
renders it for a pull-request comment, and `--out FILE` also writes it as JSON: one observation
of the fleet gives a CI job both the comment and the document.
"""

from __future__ import annotations

import dataclasses
import json
import time
from enum import StrEnum
from pathlib import Path

import typer

from axis.app.apply import plan_specs
from axis.app.context import AppError
from axis.app.plan_document import plan_data, plan_document
from axis.cli.context import app_context
from axis.cli.controller_path import host_connector
from axis.cli.output import Format, emit
from axis.cli.plan_view import print_diff
from axis.cli.progress import fleet_progress
from axis.reconcile.converge import HostOutcome
from axis.specs.loader import load_specs

EXIT_PENDING = 2


class DiffFormat(StrEnum):
    table = "table"
    json = "json"
    yaml = "yaml"
    markdown = "markdown"


def diff(
    ctx: typer.Context,
    filename: list[Path] = typer.Option(..., "-f", "--filename", help="spec file or directory (repeatable)"),
    jobs: int = typer.Option(16, "--jobs", "-j", min=1, help="hosts observed at once"),
    output: DiffFormat = typer.Option(DiffFormat.table, "-o", "--output", help="table, json, yaml or markdown"),
    out: Path | None = typer.Option(None, "--out", help="also write the plan document (JSON) to this file"),
) -> None:
    """Show the steps `axis apply` would run on each host; exit 0 none, 2 pending, 1 error."""
    app = app_context(ctx)
    loaded = load_specs(filename)
    app = dataclasses.replace(app, connector=host_connector(app))  # a running controller's connections
    applied = plan_specs(app, loaded, apply_sets=[str(p.resolve()) for p in filename], jobs=jobs,
                         progress=fleet_progress)
    if output == DiffFormat.table:
        print_diff(applied.outcomes)
    if output != DiffFormat.table or out is not None:
        plan = plan_document(applied, time.time())
        if out is not None:
            try:
                out.write_text(json.dumps(plan_data(plan), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
            except OSError as exc:
                raise AppError(f"cannot write the plan to {out}: {exc.strerror or exc}") from exc
        if output == DiffFormat.markdown:
            from axis.cli.plan_markdown import render_markdown

            typer.echo(render_markdown(plan), nl=False)
        elif output != DiffFormat.table:
            emit(plan_data(plan), Format(output.value))
    report_exit(applied.outcomes)


def report_exit(outcomes: list[HostOutcome]) -> None:
    """1 if any host failed, else 2 if any change is pending, else 0."""
    if any(o.status == "failed" for o in outcomes):
        raise typer.Exit(1)
    if any(o.status == "pending" for o in outcomes):
        raise typer.Exit(EXIT_PENDING)
