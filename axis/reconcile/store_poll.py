"""What another process stored: the controller's once-a-second look at the objects' change times.

`axis apply` beside the controller hands its hosts over, the HTTP API stores objects, `axis
delete` removes them: none of them tells the controller. A look costs one aggregate query (the
fingerprint: count and newest change time) and, only when it moved, one read of every object's
version, compared with the versions the controller last knew (its own stores included, read in
their own transaction, so it never takes its own write for another's).
"""

from __future__ import annotations

from sqlmodel import Session

from axis.state.objects import Change, object_versions, objects_fingerprint

#: How often the DB is checked for objects stored by another process (seconds).
POLL_EVERY = 1.0


class StorePoll:
    """The stored objects' versions as the controller last knew them."""

    def __init__(self) -> None:
        self.versions: dict[tuple[str, str], float] = {}
        self.fingerprint: tuple[int, float] | None = None

    @property
    def first(self) -> bool:
        """Nothing known yet: neither a look nor a store of the controller's own."""
        return self.fingerprint is None

    def absorb(self, versions: dict[tuple[str, str], float], fingerprint: tuple[int, float]) -> None:
        """The controller's own store, read in the transaction that wrote it."""
        self.versions, self.fingerprint = versions, fingerprint

    def look(self, session: Session) -> list[Change] | None:
        """What changed since the last look (None: nothing), as creations, edits and deletions."""
        fingerprint = objects_fingerprint(session)
        if fingerprint == self.fingerprint:
            return None
        self.fingerprint = fingerprint
        versions = object_versions(session)
        if versions == self.versions:
            return None
        known = self.versions
        changed = [Change(kind, name, "configured" if (kind, name) in known else "created", 0, "state DB")
                   for (kind, name), at in versions.items() if known.get((kind, name)) != at]
        changed += [Change(kind, name, "deleted", 0, "state DB") for kind, name in known.keys() - versions.keys()]
        self.versions = versions
        return changed
