"""`axis apply -f PATH`: store the desired objects, report created/configured/unchanged/pruned."""

from __future__ import annotations

from pathlib import Path

import typer

from axis.cli.context import app_context
from axis.cli.output import Format, emit, print_table
from axis.specs import load_specs
from axis.state.objects import apply_objects, desired_hosts
from axis.specs.effective import matching_profiles


def apply(
    ctx: typer.Context,
    filename: list[Path] = typer.Option(..., "-f", "--filename", help="spec file or directory (repeatable)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="show what would be stored; store nothing"),
    prune: bool = typer.Option(False, "--prune", help="delete objects applied from these paths that are gone from them"),
    output: Format = typer.Option(Format.table, "-o", "--output", help="table, json or yaml"),
) -> None:
    """Store the desired state from spec files; nothing is stored unless every document is valid."""
    app = app_context(ctx)
    loaded = load_specs(filename)  # raises SpecErrors listing every problem: nothing stored
    sets = [str(p.resolve()) for p in filename]
    db = app.db()
    with db.write() as session:
        changes = apply_objects(session, loaded, prune=prune, apply_sets=sets)
        hosts, profiles = desired_hosts(session)
        if dry_run:
            session.rollback()
    warnings = [f"HostProfile/{p.metadata.name} matches no host" for p in profiles
                if not any(p in matching_profiles(h, [p]) for h in hosts)]
    suffix = " (dry run)" if dry_run else ""
    if output in (Format.json, Format.yaml):
        emit({"dryRun": dry_run, "changes": [
            {"kind": c.kind, "name": c.name, "action": c.action, "generation": c.generation, "source": c.source}
            for c in changes], "warnings": warnings}, output)
        return
    for change in changes:
        typer.echo(f"{change.kind.lower()}/{change.name} {change.action}{suffix}")
    for warning in warnings:
        typer.echo(f"warning: {warning}", err=True)
    if not changes:
        typer.echo("no objects found", err=True)
