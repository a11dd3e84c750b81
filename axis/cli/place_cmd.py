"""`axis place`: the hosts ranked for a task, advisory. Apart from `axis renew|release|exec`
(`claims_cmd`), whose ledger and SSH code it does not need: it reads one snapshot of the state."""

from __future__ import annotations

import time

import typer

from axis.app.ranking import rank_task
from axis.cli.claims_view import context_block, explain_lines, placement_table
from axis.cli.context import app_context
from axis.cli.output import Format, emit, print_table


def place(
    ctx: typer.Context,
    task: str = typer.Argument(..., help='what the task does, e.g. "run ollama inference on a 7b model"'),
    explain: bool = typer.Option(False, "--explain", help="show what was inferred from the task and each fit score's terms"),
    context: bool = typer.Option(False, "--context", help="print a compact block to paste into an agent's prompt"),
    output: Format = typer.Option(Format.table, "-o", "--output", help="table, json or yaml"),
) -> None:
    """Rank the hosts for a task (advisory: no lease is taken), with a reason for every rejected host."""
    ranking = rank_task(app_context(ctx), task, now=time.time())
    doc, placement = ranking.doc, ranking.placement
    if output in (Format.json, Format.yaml):
        emit(doc, output)
        return
    if context:
        typer.echo(context_block(doc, placement))
        return
    if explain:
        typer.echo("\n".join(explain_lines(doc)) + "\n")
    best = placement.best
    typer.echo(f"best: {best.host.name} (fit {best.score}/100)" if best else f"no host fits: {task}")
    if placement.ranked:
        print_table(*placement_table(doc))
    if placement.rejected:
        typer.echo("")
        print_table(["REJECTED", "REASON"], [[r.host, "; ".join(r.reasons)] for r in placement.rejected])


