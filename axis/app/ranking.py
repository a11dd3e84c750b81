"""`axis place` and the API's ranking: the hosts ranked for a task on their newest stored facts,
advisory (no lease is taken), read through one plain DB-API snapshot so that the command starts
without SQLAlchemy; the ledger's bind ranks the same candidates through the ORM, inside its
write transaction (`axis.placement.candidates`)."""

from __future__ import annotations

import socket
from dataclasses import dataclass

from pydantic import ValidationError

from axis.app.context import AppError
from axis.app.placement_document import PlacementDocument, placement_doc
from axis.placement.candidates import read_candidates
from axis.placement.infer import infer
from axis.placement.scorer import Placement, rank
from axis.specs.errors import problem_text
from axis.specs.models import ClaimSpec
from axis.state.dbapi import SnapshotSource


@dataclass(frozen=True)
class Ranking:
    """The hosts ranked for a task: the document every front end shows, and the placement it
    was made from (for the command line's `--context` block)."""

    doc: PlacementDocument
    placement: Placement


def rank_task(source: SnapshotSource, task: str, *, now: float) -> Ranking:
    """Advisory ranking of the hosts for `task` on the newest stored facts; takes no lease.
    AppError, in one line that says what to write instead, for a task that is no valid claim task."""
    try:
        spec = ClaimSpec(task=task)
    except ValidationError as exc:
        problem = "; ".join(problem_text(e) for e in exc.errors())
        raise AppError(f"invalid task {task[:60]!r}: {problem}; say what the task does, "
                       'e.g. axis place "build the kernel with make -j8"') from None
    inference = infer(spec)
    with source.snapshot() as snap:
        hosts = read_candidates(snap, now=now, local_hostname=socket.gethostname())
    placement = rank(inference.need, hosts)
    return Ranking(placement_doc(task, inference, placement), placement)
