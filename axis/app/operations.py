"""What a front end does to the desired state and the claims, beside apply (`axis.app.apply`):
delete an object, rank the hosts for a task, run a command on a claim's host, suspend or resume
a git source.

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
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from axis.app.claims import placement_doc
from pydantic import ValidationError

from axis.app.context import AppContext, AppError, NotFound
from axis.app.documents import PlacementDocument
from axis.app.sources import SourceDocument, not_found, source_view
from axis.hostcmd.claim_exec import ExecResult, bound_target, run_bound
from axis.placement.candidates import load_candidates
from axis.placement.infer import infer
from axis.placement.scorer import Placement, rank
from axis.specs import Kind
from axis.specs.errors import problem_text
from axis.specs.models import ClaimSpec
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


@dataclass(frozen=True)
class Ranking:
    """The hosts ranked for a task: the document every front end shows, and the placement it
    was made from (for the command line's `--context` block)."""

    doc: PlacementDocument
    placement: Placement


def rank_task(db: Database, task: str, *, now: float) -> Ranking:
    """Advisory ranking of the hosts for `task` on the newest stored facts; takes no lease.
    AppError, in one line that says what to write instead, for a task that is no valid claim task."""
    try:
        spec = ClaimSpec(task=task)
    except ValidationError as exc:
        problem = "; ".join(problem_text(e) for e in exc.errors())
        raise AppError(f"invalid task {task[:60]!r}: {problem}; say what the task does, "
                       'e.g. axis place "build the kernel with make -j8"') from None
    inference = infer(spec)
    with db.read() as session:
        hosts = load_candidates(session, now=now, local_hostname=socket.gethostname())
    placement = rank(inference.need, hosts)
    return Ranking(placement_doc(task, inference, placement), placement)


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
