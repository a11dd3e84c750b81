"""Rendering converge outcomes for people: the `+ ~ -` plan of `axis diff` and the result table of
`axis apply` (their `-o json|yaml` documents are `axis.app.plan_document`'s and `axis.app.applied`'s;
diff's pull-request comment is `plan_markdown`'s)."""

from __future__ import annotations

import typer

from axis.cli.output import print_table
from axis.reconcile.converge import HostOutcome


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
