"""`axis apply` beside a running controller: wait for its passes so the exit code still says how
the hosts ended up (a GitOps job must not go green on hosts nobody has converged yet)."""

from __future__ import annotations

import time

import typer

from axis.cli.context import AppContext
from axis.cli.output import print_table
from axis.cli.plan_view import cut_middle
from axis.reconciler.apply_pass import Stored
from axis.reconciler.handover import HandedResult, changed_hosts, handed_results

POLL_SECONDS = 0.5


def wait_for_controller(app: AppContext, stored: Stored, timeout: float) -> dict[str, HandedResult | None]:
    """Each handed-over host's result, or None for a host the controller did not answer for
    within `timeout` seconds (its pass is still running, or it is backing off)."""
    changed = changed_hosts(stored.changes, stored.handed)
    typer.echo(f"waiting up to {timeout:g}s for the controller's pass on {len(stored.handed)} host(s) "
               "(--no-wait returns at once)", err=True)
    deadline = time.monotonic() + timeout
    while True:
        with app.db().read() as session:
            results = handed_results(session, stored.handed, changed, stored.stored_at)
        if len(results) == len(stored.handed) or time.monotonic() >= deadline:
            return {name: results.get(name) for name in stored.handed}
        time.sleep(POLL_SECONDS)


def handed_data(results: dict[str, HandedResult | None], timeout: float) -> list[dict[str, object]]:
    return [{"name": name, "ready": r.ready if r else None, "reason": r.reason if r else "NoPassYet",
             "message": r.message if r else f"the controller reported no pass within {timeout:g}s"}
            for name, r in results.items()]


def print_handed(results: dict[str, HandedResult | None], timeout: float) -> None:
    rows = [[d["name"], {True: "yes", False: "no", None: "?"}[d["ready"]], d["reason"],  # type: ignore[index]
             cut_middle(str(d["message"])) or None] for d in handed_data(results, timeout)]
    print_table(["HOST", "READY", "REASON", "MESSAGE"], rows)


def all_ready(results: dict[str, HandedResult | None]) -> bool:
    return all(r is not None and r.ready for r in results.values())
