"""What a front end does to the desired state and the claims, beside apply (`axis.app.apply`):
delete an object, run a command on a claim's host, suspend or resume a git source (ranking the
hosts for a task is `axis.app.ranking`).

Renewing and releasing a lease are the ledger's own operations (`axis.placement.ledger.renew`,
`release`), which both front ends call directly; there is no app function for them, because one
could not keep both front ends' answers as they are. For an unknown claim the command line prints
the ledger's `claim 'x' not found` (exit 1), while the API answers 404 `Claim 'x' not found`
(`require_claim`, the wording of every other 404) before asking the ledger, and 409 for what the
ledger refuses. An app function would have to pick one of the two texts, or take a switch that
only says which front end calls it; the rule itself already lives once, in the ledger.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


from axis.app.context import AppContext, NotFound
from axis.app.sources import SourceDocument, not_found, source_view
from axis.hostcmd.claim_exec import ExecResult, bound_target, run_bound
from axis.specs import Kind
from axis.state import Database
from axis.state.objects import delete_object, get_row
from axis.state.sources import set_suspended, source_row


def delete(db: Database, kind: Kind, name: str) -> None:
    """Remove one desired object (a claim's lease is released with it); NotFound if absent."""
    with db.write() as session:
        if delete_object(session, kind, name) is None:
            raise NotFound(f"{kind} {name!r} not found")


def require_claim(db: Database, name: str) -> None:
    """NotFound unless a Claim `name` is stored (the API answers 404 before asking the ledger)."""
    with db.read() as session:
        if get_row(session, Kind.CLAIM, name) is None:
            raise NotFound(f"{Kind.CLAIM} {name!r} not found")


def exec_on_claim(app: AppContext, claim: str, line: str, *, clock: Callable[[], float], force: bool,
                  on_output: Callable[[str, str], None], cap: bool = True) -> ExecResult:
    """Run `line` on the host `claim` is bound to, capped at the memory its lease holds (not with
    `cap=False`: `--no-cap`), renewing the lease while it runs; how it ended: `exit_code`,
    `oom_killed` and `message` (an `OOMKilled` Warning event is recorded on the claim).
    ExecRefused (not started: also where no cap can be enforced), TransportError (host
    unreachable) and ExecLost (connection lost while it ran) say why it did not run to completion."""
    db = app.db()
    target = bound_target(db, claim, now=clock())
    return asyncio.run(run_bound(db, target, line, connector=app.connector, clock=clock, force=force,
                                 on_output=on_output, cap=cap))


def suspend_source(db: Database, name: str) -> SourceDocument:
    """Stop applying new revisions of a git source and repairing its hosts' drift, until resumed
    (the controller reads the flag on its next look); NotFound if there is no such source."""
    return _suspend(db, name, True)


def resume_source(db: Database, name: str) -> SourceDocument:
    """Apply a suspended source's revisions and repair drift again; NotFound if there is none."""
    return _suspend(db, name, False)


def _suspend(db: Database, name: str, suspended: bool) -> SourceDocument:
    with db.write() as session:
        if not set_suspended(session, name, suspended, time.time()):
            raise NotFound(not_found(name))
        row = source_row(session, name)
        assert row is not None  # just found by set_suspended, in this transaction
        return source_view(session, row)
