"""The resource words `axis get`, `describe` and `delete` take, and which kind each names.

Leases and the controller are not desired objects (nothing to apply), but they are rows of the
same table, so every command resolves its word one way and says in one shape what it takes."""

from __future__ import annotations

from dataclasses import dataclass

from axis.app.context import AppError
from axis.reconcile.supervisor import KIND as CONTROLLER

LEASE = "Lease"

#: word (singular, plural, alias) → kind
KIND_WORDS = {
    "host": "Host", "hosts": "Host",
    "profile": "HostProfile", "profiles": "HostProfile", "hostprofile": "HostProfile",
    "hostprofiles": "HostProfile",
    "claim": "Claim", "claims": "Claim",
    "event": "Event", "events": "Event",
    "lease": LEASE, "leases": LEASE,
    "controller": CONTROLLER, "controllers": CONTROLLER,
}


@dataclass(frozen=True)
class Accepts:
    """What one command takes: its kinds, and the words its error for any other word lists."""

    kinds: frozenset[str]
    words: str


GET = Accepts(frozenset(KIND_WORDS.values()), "hosts, profiles, claims, leases, events or controller")
#: Events are resolved so that describe can say why they cannot be described.
DESCRIBE = Accepts(frozenset({"Host", "HostProfile", "Claim", "Event", CONTROLLER}), "host, profile, claim or controller")
#: Events are resolved so that delete can say why they cannot be deleted.
DELETE = Accepts(frozenset({"Host", "HostProfile", "Claim", "Event"}), "host, profile or claim")


def resolve_kind(word: str, accepts: Accepts) -> str:
    """The kind `word` names, if the command takes it; AppError listing what it takes otherwise."""
    kind = KIND_WORDS.get(word.lower())
    if kind is None or kind not in accepts.kinds:
        raise AppError(f"unknown resource type {word!r} (use {accepts.words})")
    return kind
