"""`axis apply -f PATH`: store the desired objects (created/configured/unchanged/pruned), then
converge the hosts they concern in one pass, then bind pending claims (`ledger.place_claims`:
sweep expired leases, bind on the newest stored facts). `--dry-run` stores and binds nothing;
`--no-converge` stores only: no host is contacted, no claim bound, no lease taken."""

from __future__ import annotations

import shlex
from collections import Counter
from pathlib import Path

import typer

from axis.app.applied import applied_data
from axis.app.apply import apply_specs
from axis.cli.context import app_context
from axis.cli.diff_cmd import report_exit
from axis.cli.handover_wait import all_ready, handed_data, print_handed, wait_for_controller
from axis.cli.output import Format, emit
from axis.cli.plan_view import print_diff, print_results
from axis.cli.progress import fleet_progress
from axis.placement.ledger import Outcome
from axis.reconcile.apply_pass import Stored
from axis.reconcile.converge import HostOutcome
from axis.specs import Kind
from axis.specs.loader import load_specs


def apply(
    ctx: typer.Context,
    filename: list[Path] = typer.Option(..., "-f", "--filename", help="spec file or directory (repeatable)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="show what would be stored; store nothing"),
    prune: bool = typer.Option(False, "--prune", help="delete objects applied from these paths that are gone from them"),
    converge: bool = typer.Option(True, "--converge/--no-converge",
                                  help="--no-converge: store the desired state only: contact no host, bind no "
                                       "claim, take no lease (a converging apply or a controller does that later)"),
    jobs: int = typer.Option(16, "--jobs", "-j", min=1, help="hosts converged at once"),
    output: Format = typer.Option(Format.table, "-o", "--output", help="table, json or yaml"),
    wait: bool = typer.Option(True, "--wait/--no-wait",
                              help="beside a running controller: wait for its pass on the hosts (exit 1 if any is not Ready)"),
    wait_timeout: float = typer.Option(300.0, "--wait-timeout", min=0.0, help="seconds --wait waits at most (inf: until the controller answers or stops)"),
) -> None:
    """Store the desired state from spec files, then converge the hosts and bind pending claims;
    nothing is stored unless every document is valid. Exit 0 ok, 1 if any host failed (dry run: 2
    if changes are pending). With --no-converge it stores only.
    Beside a running controller the hosts are handed to it, and by default apply waits for its
    results so that the exit code still reflects the hosts."""
    app = app_context(ctx)
    loaded = load_specs(filename)  # raises SpecErrors listing every problem: nothing stored
    applied = apply_specs(app, loaded, apply_sets=[str(p.resolve()) for p in filename], prune=prune,
                          dry_run=dry_run, converge=converge, jobs=jobs,
                          on_wait=lambda msg: typer.echo(msg, err=True), progress=fleet_progress)
    stored = applied.stored
    if output not in (Format.json, Format.yaml):
        _report_stored(stored, converge, waiting=wait, paths=filename)
    handed = wait_for_controller(app, stored, wait_timeout) if stored.handed and wait else None
    if output in (Format.json, Format.yaml):
        data = applied_data(applied)  # with --wait, what the controller made of the hosts handed to it:
        emit({**data, "handedOver": handed_data(handed)} if handed is not None else data, output)
    else:
        report_placements(applied.placed)
        if handed is not None:
            print_handed(handed)
        if applied.outcomes:
            typer.echo("")
            print_diff(applied.outcomes) if dry_run else print_results(applied.outcomes)
    if handed is not None and not all_ready(handed):
        raise typer.Exit(1)
    _exit(applied.outcomes, dry_run)


def _report_stored(stored: Stored, converge: bool, *, waiting: bool, paths: list[Path]) -> None:
    """What was stored, then who converges it: this apply, a controller, or (stored only) nobody yet."""
    suffix = " (dry run)" if stored.dry_run else ""
    for change in stored.changes:
        typer.echo(f"{change.kind.lower()}/{change.name} {change.action}{suffix}")
    for warning in stored.warnings:
        typer.echo(f"warning: {warning}", err=True)
    if not stored.changes:
        typer.echo("no objects found", err=True)
    if stored.store_only:
        typer.echo(store_only_summary(stored, paths), err=True)
    if stored.controller is not None and converge:
        follow = "" if waiting else " (follow with `axis get hosts`)"
        what = (f"it converges the changed hosts now{follow}; its watched specs win again "
                "when they next change" if any(c.action != "unchanged" for c in stored.changes)
                else "nothing changed; it re-observes every host at its next resync")
        typer.echo(f"a controller (pid {stored.controller}) reconciles this state DB: {what}", err=True)


def store_only_summary(stored: Stored, paths: list[Path]) -> str:
    """One line for `--no-converge`: what is now in the state DB, that nothing else happened, and
    what converges it (a running controller, else the command to run)."""
    counts = Counter(c.kind for c in stored.changes if c.action != "pruned")
    what = ", ".join(f"{counts[kind]} {nouns[counts[kind] != 1]}" for kind, nouns in _NOUNS.items()
                     if counts[kind]) or "nothing"
    pruned = sum(c.action == "pruned" for c in stored.changes)
    if pruned:
        what += f" ({pruned} pruned)"
    if stored.controller is not None:
        nxt = f"the controller (pid {stored.controller}) on this state DB does both at its next pass"
    else:
        files = " ".join(f"-f {shlex.quote(str(p))}" for p in paths)
        nxt = f"run `axis apply {files}` or a controller (`axis controller -w DIR`)"
    return f"stored {what}; not converged, claims not bound (--no-converge): {nxt}"


#: kind → (singular, plural) as the summary line says them
_NOUNS = {Kind.HOST: ("host", "hosts"), Kind.HOST_PROFILE: ("host profile", "host profiles"), Kind.CLAIM: ("claim", "claims")}


def _exit(outcomes: list[HostOutcome], dry_run: bool) -> None:
    if dry_run:
        report_exit(outcomes)
    elif any(o.status == "failed" for o in outcomes):
        raise typer.Exit(1)


def report_placements(outcomes: list[Outcome]) -> None:
    """After `axis apply`: one line per claim the pass bound or left pending (stderr, so stdout
    stays the list of stored objects)."""
    for o in outcomes:
        if o.phase:
            detail = f"bound to {o.host}" if o.host else f"pending: {o.reason}"
            typer.echo(f"claim/{o.claim} {detail}", err=True)
        elif o.host and o.reason:  # bound, but its changed spec could not be applied on its host
            typer.echo(f"warning: claim/{o.claim}: {o.reason}", err=True)
