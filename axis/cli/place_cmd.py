"""`axis place`: the hosts ranked for a task, advisory. Apart from `axis renew|release|exec`
(`claims_cmd`), whose ledger and SSH code it does not need: it reads one snapshot of the state."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import typer

from axis.app.ranking import rank_task
from axis.cli.claims_view import context_block, explain_lines, placement_table
from axis.cli.context import app_context
from axis.cli.output import Format, emit, print_table

#: `axis place`'s exit code when no host fits the task, whatever `-o` says (0 a host fits, 1 an
#: error): a script can tell "nowhere to run it" from a failure without reading the output. No
#: other axis command gives 3 a meaning of its own (diff's 2 is "changes pending"), but `on`,
#: `exec` and `logs` pass the remote command's status through, which may be 3.
EXIT_NO_HOST_FITS = 3

if TYPE_CHECKING:
    from axis.app.placement_document import PlacementDocument
    from axis.placement.scorer import Placement


def place(
    ctx: typer.Context,
    task: str = typer.Argument(..., help='what the task does, e.g. "run ollama inference on a 7b model"'),
    explain: bool = typer.Option(False, "--explain", help="show what was inferred from the task and each fit score's terms"),
    context: bool = typer.Option(False, "--context", help="print a compact block to paste into an agent's prompt"),
    output: Format = typer.Option(Format.table, "-o", "--output", help="table, json or yaml"),
) -> None:
    """Rank the hosts for a task (advisory: no lease is taken), with a reason for every rejected host.
    Exit 0 a host fits, 3 no host fits (-o json: "best" is null), 1 error."""
    ranking = rank_task(app_context(ctx), task, now=time.time())
    _show(ranking.doc, ranking.placement, task, explain=explain, context=context, output=output)
    if ranking.placement.best is None:
        raise typer.Exit(EXIT_NO_HOST_FITS)


def _show(doc: PlacementDocument, placement: Placement, task: str, *, explain: bool, context: bool,
          output: Format) -> None:
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


