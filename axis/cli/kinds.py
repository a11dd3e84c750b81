"""The resource words `axis get`, `describe`, `delete`, `suspend` and `resume` take, and which
kind each names.

Leases, git sources and the controller are not desired objects (nothing to apply), but they are
rows of the same table, so every command resolves its word one way and says in one shape what
it takes."""

from __future__ import annotations

from dataclasses import dataclass

from axis.app.context import AppError
from axis.specs import Kind
from axis.state.object_kinds import CONTROLLER_KIND as CONTROLLER
from axis.state.object_kinds import SOURCE_KIND as SOURCE

#: Not desired objects: the ledger's rows, the event log and the controllers sharing the state DB
#: (the controller's kind, whose health `get controller` shows, is the supervisor's).
LEASE = "Lease"
EVENT = "Event"
CONTROLLERS = "ControllerList"

#: word (singular, plural, alias) → kind
KIND_WORDS = {
    "host": Kind.HOST, "hosts": Kind.HOST,
    "profile": Kind.HOST_PROFILE, "profiles": Kind.HOST_PROFILE, "hostprofile": Kind.HOST_PROFILE,
    "hostprofiles": Kind.HOST_PROFILE,
    "claim": Kind.CLAIM, "claims": Kind.CLAIM,
    "event": EVENT, "events": EVENT,
    "lease": LEASE, "leases": LEASE,
    "source": SOURCE, "sources": SOURCE,
    "controller": CONTROLLER, "controllers": CONTROLLERS,
}


@dataclass(frozen=True)
class Accepts:
    """What one command takes: its kinds, and the words its error for any other word lists."""

    kinds: frozenset[str]
    words: str


GET = Accepts(frozenset(KIND_WORDS.values()), "hosts, profiles, claims, leases, events, sources, controller or "
                                              "controllers")
#: Events are resolved so that describe can say why they cannot be described.
DESCRIBE = Accepts(frozenset({Kind.HOST, Kind.HOST_PROFILE, Kind.CLAIM, EVENT, SOURCE, CONTROLLER, CONTROLLERS}),
                   "host, profile, claim, source or controller")
#: Events are resolved so that delete can say why they cannot be deleted.
DELETE = Accepts(frozenset({Kind.HOST, Kind.HOST_PROFILE, Kind.CLAIM, EVENT}), "host, profile or claim")
#: What the controller follows and a person can pause: git sources only.
SUSPEND = Accepts(frozenset({SOURCE}), "source")


def resolve_kind(word: str, accepts: Accepts) -> str:
    """The kind `word` names, if the command takes it; AppError listing what it takes otherwise."""
    kind = KIND_WORDS.get(word.lower())
    if kind is None or kind not in accepts.kinds:
        raise AppError(f"unknown resource type {word!r} (use {accepts.words})")
    return kind
