"""Rendering converge outcomes: the `+ ~ -` plan of `axis diff`, the result table of `axis apply`,
and the same data for machines (`-o json|yaml`)."""

from __future__ import annotations

from typing import Any

import typer

from axis.cli.output import print_table
from axis.drivers.features import Step
from axis.reconcile.apply_pass import Applied
from axis.reconcile.converge import FeatureOutcome, HostOutcome


def _step(step: Step) -> dict[str, Any]:
    out: dict[str, Any] = {"op": step.op, "summary": step.summary, "target": step.target, "live": step.live}
    if step.detail:
        out["diff"] = step.detail
    return out


def _feature(f: FeatureOutcome) -> dict[str, Any]:
    out: dict[str, Any] = {"feature": f.feature, "state": f.state, "message": f.message,
                           "steps": [_step(s) for s in f.plan.steps]}
    if f.plan.error:
        out["error"] = f.plan.error
    if f.plan.skipped:
        out["refused"] = [{**_step(s), "hostMessage": why} for s, why in f.plan.skipped]
    if f.results:
        out["results"] = [{"summary": r.step.summary, "status": r.status, "message": r.message} for r in f.results]
    return out


def outcomes_data(outcomes: list[HostOutcome]) -> dict[str, Any]:
    return {
        "changesPending": any(o.status == "pending" for o in outcomes),
        "failed": sum(1 for o in outcomes if o.status == "failed"),
        "hosts": [{"name": o.host, "status": o.status, "reason": o.reason or None, "seconds": round(o.seconds, 3),
                   "features": [_feature(f) for f in o.features]} for o in outcomes],
    }


def applied_data(applied: Applied) -> dict[str, Any]:
    """The document `axis apply -o json` prints and `POST /apply` answers."""
    stored = applied.stored
    return {"dryRun": stored.dry_run, "storeOnly": stored.store_only,  # storeOnly: no host contacted, no claim bound
            "changes": [{"kind": c.kind, "name": c.name, "action": c.action, "generation": c.generation,
                         "source": c.source} for c in stored.changes],
            "warnings": stored.warnings, "controller": stored.controller, **outcomes_data(applied.outcomes),
            "claims": [{"claim": p.claim, "phase": p.phase, "host": p.host or None, "reason": p.reason or None}
                       for p in applied.placed if p.phase]}


def print_diff(outcomes: list[HostOutcome], *, show_diffs: bool = True) -> None:
    """Terraform-style: each host's steps, `+` add, `~` change, `-` remove; "in sync" otherwise."""
    for o in outcomes:
        if o.status == "failed" and not o.features:  # the host itself failed: nothing was planned
            typer.echo(f"{o.host}: FAILED: {o.reason}")
            continue
        steps = [(f, s) for f in o.features for s in f.plan.steps]
        unknown = [f for f in o.features if f.plan.error]
        head = f"{len(steps)} change(s)" if steps else "in sync" if not unknown else "no change planned"
        typer.echo(f"{o.host}: {head}" + (f", {len(unknown)} feature(s) FAILED" if unknown else ""))
        for f in unknown:
            typer.echo(f"  ! {f.feature}: FAILED, nothing planned: {f.plan.error}")
        for f, s in steps:
            live = "  [live]" if s.live else ""
            typer.echo(f"  {s.op} {f.feature}: {s.summary}{live}")
            if show_diffs and s.detail:
                for line in s.detail.splitlines():
                    typer.echo(f"      {line}")
        for f in o.features:
            for s, why in f.plan.skipped:
                typer.echo(f"  ! {f.feature}: {s.summary}: refused by the host earlier ({why}); not retried")
            if f.state == "not-applicable":
                typer.echo(f"  . {f.feature}: {f.message}")


def print_results(outcomes: list[HostOutcome]) -> None:
    """One line per host; the host's full refusal messages are in `axis describe host NAME`."""
    rows = []
    for o in outcomes:
        refused = [f.feature for f in o.features if f.state == "refused"]
        rows.append([o.host, o.status, o.steps_run, ",".join(refused) or None, f"{o.seconds:.1f}s",
                     cut_middle(o.reason) or None])
    print_table(["HOST", "RESULT", "STEPS", "REFUSED", "TIME", "REASON"], rows)
    if any(f.state == "refused" for o in outcomes for f in o.features):
        typer.echo("refused: the host said no to a live step (kept as files, not retried); "
                   "see `axis describe host NAME`", err=True)


def cut_middle(text: str, width: int = 160) -> str:
    """Cut the middle: the host's own words (the cause) come last and must stay visible."""
    if len(text) <= width:
        return text
    head = width // 3
    return text[:head] + " ... " + text[-(width - head - 5):]
