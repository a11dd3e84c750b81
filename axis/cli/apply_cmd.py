"""`axis apply -f PATH`: store the desired objects (created/configured/unchanged/pruned), then
converge the hosts they concern in one pass, then bind pending claims (`ledger.place_claims`:
sweep expired leases, bind on the newest stored facts). `--dry-run` stores and binds nothing."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from axis.cli.claims_cmd import report_placements
from axis.cli.context import app_context
from axis.cli.converge_run import run_pass, work_for
from axis.cli.diff_cmd import report_exit
from axis.cli.output import Format, emit
from axis.cli.plan_view import outcomes_data, print_diff, print_results
from axis.reconciler.converge import HostOutcome
from axis.reconciler.ledger import place_claims
from axis.reconciler.record import record_claim_conditions
from axis.specs import load_specs
from axis.state.objects import apply_objects, desired_hosts
from axis.specs.effective import matching_profiles


def apply(
    ctx: typer.Context,
    filename: list[Path] = typer.Option(..., "-f", "--filename", help="spec file or directory (repeatable)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="show what would be stored; store nothing"),
    prune: bool = typer.Option(False, "--prune", help="delete objects applied from these paths that are gone from them"),
    converge: bool = typer.Option(True, "--converge/--no-converge",
                                  help="--no-converge: store the desired state only (a controller converges later)"),
    jobs: int = typer.Option(16, "--jobs", "-j", min=1, help="hosts converged at once"),
    output: Format = typer.Option(Format.table, "-o", "--output", help="table, json or yaml"),
) -> None:
    """Store the desired state from spec files, then converge the hosts; nothing is stored unless
    every document is valid. Exit 0 ok, 1 if any host failed (dry run: 2 if changes are pending)."""
    app = app_context(ctx)
    loaded = load_specs(filename)  # raises SpecErrors listing every problem: nothing stored
    sets = [str(p.resolve()) for p in filename]
    db = app.db()
    with db.write() as session:
        changes = apply_objects(session, loaded, prune=prune, apply_sets=sets)
        hosts, profiles = desired_hosts(session)
        work, tools = work_for(session, loaded) if converge else ([], [])
        if dry_run:
            session.rollback()
    outcomes = run_pass(app, work, tools, dry_run=dry_run, jobs=jobs)
    placed = [] if dry_run else place_claims(db, now=time.time())
    if not dry_run:
        with db.write() as session:
            record_claim_conditions(session, time.time())
    warnings = [f"HostProfile/{p.metadata.name} matches no host" for p in profiles
                if not any(p in matching_profiles(h, [p]) for h in hosts)]
    suffix = " (dry run)" if dry_run else ""
    if output in (Format.json, Format.yaml):
        emit({"dryRun": dry_run, "changes": [
            {"kind": c.kind, "name": c.name, "action": c.action, "generation": c.generation, "source": c.source}
            for c in changes], "warnings": warnings, **outcomes_data(outcomes),
            "claims": [{"claim": p.claim, "phase": p.phase, "host": p.host or None, "reason": p.reason or None}
                       for p in placed if p.phase]}, output)
        _exit(outcomes, dry_run)
        return
    for change in changes:
        typer.echo(f"{change.kind.lower()}/{change.name} {change.action}{suffix}")
    for warning in warnings:
        typer.echo(f"warning: {warning}", err=True)
    if not changes:
        typer.echo("no objects found", err=True)
    report_placements(placed)
    if outcomes:
        typer.echo("")
        print_diff(outcomes) if dry_run else print_results(outcomes)
    _exit(outcomes, dry_run)


def _exit(outcomes: list[HostOutcome], dry_run: bool) -> None:
    if dry_run:
        report_exit(outcomes)
    elif any(o.status == "failed" for o in outcomes):
        raise typer.Exit(1)
