"""`axis apply` beside a running controller: wait for its passes so the exit code still says how
the hosts ended up (a GitOps job must not go green on hosts nobody has converged yet)."""

from __future__ import annotations

import time

import typer

from axis.app.context import AppContext
from axis.cli.output import print_table
from axis.cli.plan_view import cut_middle
from axis.reconcile.apply_pass import Stored
from axis.reconcile.handover import HandedResult, changed_hosts, handed_results
from axis.state.lock import controller_pid

POLL_SECONDS = 0.5


def wait_for_controller(app: AppContext, stored: Stored, timeout: float) -> list[HandedResult]:
    """Each handed-over host's result; a host the controller did not answer for gets NoPassYet
    after `timeout` seconds, or ControllerStopped at once when the controller is gone."""
    changed = changed_hosts(stored.changes, stored.handed)
    typer.echo(f"waiting up to {timeout:g}s for the controller's pass on {len(stored.handed)} host(s) "
               "(--no-wait returns at once)", err=True)
    deadline = time.monotonic() + timeout
    while True:
        gone = controller_pid(app.state) is None  # asked first: its last pass is then read below
        with app.db().read() as session:
            results = handed_results(session, stored.handed, changed, stored.stored_at)
        if len(results) == len(stored.handed):
            return [results[n] for n in stored.handed]
        if gone:
            why = ("ControllerStopped", f"the controller (pid {stored.controller}) stopped before its pass on this host")
            return [results.get(n) or HandedResult(n, False, *why) for n in stored.handed]
        if time.monotonic() >= deadline:
            why = ("NoPassYet", f"the controller reported no pass within {timeout:g}s")
            return [results.get(n) or HandedResult(n, False, *why) for n in stored.handed]
        time.sleep(POLL_SECONDS)


def handed_data(results: list[HandedResult]) -> list[dict[str, object]]:
    return [{"name": r.host, "ready": r.ready, "reason": r.reason, "message": r.message} for r in results]


def print_handed(results: list[HandedResult]) -> None:
    print_table(["HOST", "READY", "REASON", "MESSAGE"],
                [[r.host, "yes" if r.ready else "no", r.reason, cut_middle(r.message) or None] for r in results])


def all_ready(results: list[HandedResult]) -> bool:
    return all(r.ready for r in results)
