"""Git sources as every front end shows them (`axis get sources`, `describe source`, `GET
/sources`, the MCP tool): where a source points, which revision is in force, its conditions and
its last attempts, in the shape of Flux's GitRepository/Kustomization status.

A source is no desired object (nothing in a spec file declares it: the controller's `--git`
does), so like the lease ledger it has a flat document of its own. Its types live here rather
than in `documents.py`, which the desired objects' shapes fill to the module size limit.
"""

from __future__ import annotations

from typing import Literal

from sqlmodel import Session
from typing_extensions import TypedDict

from axis.app.documents import ConditionView
from axis.app.objects import condition_view
from axis.app.timefmt import iso
from axis.reconcile.git_revision import split_revision
from axis.specs import API_VERSION
from axis.state.conditions import conditions_of
from axis.state.object_kinds import SOURCE_KIND
from axis.state.sources import recent_attempts
from axis.state.tables import SourceAttempt, SourceRow

#: How many attempts a document shows (the state keeps more, bounded).
HISTORY = 5


class SourceAttemptView(TypedDict):
    """One revision the controller tried to apply, and how that ended."""

    revision: str  # `main@sha1:<40 hex>`
    time: str  # when the attempt began
    result: str  # Progressing | Converged | HostsFailed | Superseded | SpecInvalid | VerificationFailed | FetchFailed
    message: str
    note: str  # e.g. a force-push: not a descendant of the revision applied before
    hostsChanged: int
    hostsFailed: int
    finished: str | None  # None while it is in progress


class SourceDocument(TypedDict):
    """`axis get source NAME -o json`, `GET /sources/{name}`."""

    name: str
    url: str  # as shown everywhere: never with a password or token in it
    ref: str
    path: str
    interval: float  # seconds between two asks of the remote
    suspended: bool
    verifySignatures: bool
    lastAttemptedRevision: str | None
    lastAppliedRevision: str | None
    lastAppliedAt: str | None
    createdAt: str
    conditions: list[ConditionView]  # Ready, Stalled, Reconciling
    history: list[SourceAttemptView]  # newest first


class SourceList(TypedDict):
    """`axis get sources -o json`, `GET /sources`."""

    apiVersion: str
    kind: Literal["SourceList"]
    items: list[SourceDocument]


def source_view(session: Session, row: SourceRow) -> SourceDocument:
    """The document of one source, with its conditions and newest attempts, from one session."""
    return {
        "name": row.name, "url": row.url, "ref": row.ref, "path": row.path, "interval": row.interval,
        "suspended": row.suspended, "verifySignatures": row.verify,
        "lastAttemptedRevision": row.last_attempted or None, "lastAppliedRevision": row.last_applied or None,
        "lastAppliedAt": iso(row.last_applied_at) if row.last_applied_at else None,
        "createdAt": iso(row.created_at),
        "conditions": [condition_view(c) for c in conditions_of(session, SOURCE_KIND, row.name)],
        "history": [attempt_view(a) for a in recent_attempts(session, row.name, HISTORY)],
    }


def attempt_view(attempt: SourceAttempt) -> SourceAttemptView:
    return {"revision": attempt.revision, "time": iso(attempt.time), "result": attempt.result,
            "message": attempt.message, "note": attempt.note, "hostsChanged": attempt.hosts_changed,
            "hostsFailed": attempt.hosts_failed, "finished": iso(attempt.finished) if attempt.finished else None}


def source_list_view(items: list[SourceDocument]) -> SourceList:
    return {"apiVersion": API_VERSION, "kind": "SourceList", "items": items}


def short_revision(revision: str | None) -> str | None:
    """`main@sha1:0123456789…` → `main@0123456`, for tables; anything else as it is."""
    if not revision:
        return None
    ref, sha = split_revision(revision)
    return f"{ref}@{sha[:7]}" if sha else revision


def not_found(name: str) -> str:
    """The one text every front end gives for an unknown source."""
    return f"source {name!r} not found"
