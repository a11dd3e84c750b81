"""Desired objects in the state DB: storing an applied set, reading it back, deleting, pruning.

`generation` follows Kubernetes: it rises only when the canonical spec changes, so re-applying
the same files is a no-op and `observedGeneration` can tell whether a change was acted on.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import func
from sqlmodel import Session, col, delete, select

from axis.specs import MODELS, Claim, Host, HostProfile, Kind, Loaded, spec_data, spec_hash
from axis.state import leases
from axis.state.claims import drop_status, set_status
from axis.state.phases import PENDING
from axis.state.conditions import drop_conditions
from axis.state.events import record_event, trim_events
from axis.state.sources import drop_host_revision
from axis.state.stored_specs import M, valid
from axis.state.tables import DesiredObject, FactsRecord, FeatureStatus

Action = Literal["created", "configured", "unchanged", "pruned", "deleted"]


@dataclass(frozen=True)
class Change:
    kind: str
    name: str
    action: Action
    generation: int
    source: str


def apply_objects(session: Session, loaded: Iterable[Loaded], *, prune: bool = False,
                  apply_sets: Iterable[str] = (), now: float | None = None) -> list[Change]:
    """Store every loaded object; with `prune`, delete objects of `apply_sets` no longer present.

    Runs inside the caller's transaction: the caller commits (apply) or rolls back (dry run).
    """
    now = now if now is not None else time.time()
    existing = {(o.kind, o.name): o for o in session.exec(select(DesiredObject)).all()}
    changes: list[Change] = []
    present: set[tuple[str, str]] = set()
    for item in loaded:
        present.add(item.key)
        changes.append(_upsert(session, existing.get(item.key), item, now))
    if prune:
        sets = set(apply_sets)
        for key, row in sorted(existing.items()):
            if row.apply_set in sets and key not in present:
                _delete_row(session, row, "Pruned", f"gone from {row.apply_set}", now)
                changes.append(Change(row.kind, row.name, "pruned", row.generation, row.source_path))
    trim_events(session)
    return changes


def _upsert(session: Session, row: DesiredObject | None, item: Loaded, now: float) -> Change:
    obj = item.obj
    data, labels = spec_data(obj), dict(obj.metadata.labels)
    digest = spec_hash(data)
    kind, name = item.key
    if row is None:
        row = DesiredObject(kind=kind, name=name, labels=labels, spec=data, spec_hash=digest, generation=1,
                            source_path=item.path, source_line=item.line, apply_set=item.apply_set,
                            created_at=now, updated_at=now)
        session.add(row)
        record_event(session, kind, name, "Created", f"from {item.source}", now=now)
        return Change(kind, name, "created", 1, item.source)
    spec_changed, labels_changed = row.spec_hash != digest, row.labels != labels
    # Where an object was applied from is provenance, not desired state: it is kept current
    # (prune needs it) but moving a file is not a change of the object.
    row.source_path, row.source_line, row.apply_set = item.path, item.line, item.apply_set
    if not spec_changed and not labels_changed:
        return Change(kind, name, "unchanged", row.generation, item.source)
    if spec_changed:
        row.generation += 1
        row.spec, row.spec_hash = data, digest
    row.labels = labels
    row.updated_at = now
    session.add(row)
    what = f"spec changed, generation {row.generation}" if spec_changed else "labels changed"
    record_event(session, kind, name, "Configured", f"{what} (from {item.source})", now=now)
    return Change(kind, name, "configured", row.generation, item.source)


def _delete_row(session: Session, row: DesiredObject, reason: str, message: str, now: float) -> None:
    session.delete(row)
    drop_conditions(session, row.kind, row.name)
    if row.kind == Kind.HOST:
        session.exec(delete(FeatureStatus).where(col(FeatureStatus.host) == row.name))
        session.exec(delete(FactsRecord).where(col(FactsRecord.host) == row.name))
        drop_host_revision(session, row.name)
        for lease in leases.on_host(session, row.name):  # not the claims' fault: place them again
            leases.end(session, lease, reason="Released", message=f"host {reason.lower()}", now=now)
            set_status(session, lease.claim, PENDING, generation=0, now=now,
                       reason=f"its host {row.name} was {reason.lower()}; placed again on the next pass")
    if row.kind == Kind.CLAIM:
        claim_lease = leases.find(session, row.name)
        if claim_lease is not None:
            leases.end(session, claim_lease, reason="Released", message=f"claim {reason.lower()}", now=now)
        drop_status(session, row.name)
    record_event(session, row.kind, row.name, reason, message, now=now)


def delete_object(session: Session, kind: Kind, name: str, now: float | None = None) -> DesiredObject | None:
    """Delete one object (and what only it owned); None when there is no such object."""
    row = get_row(session, kind, name)
    if row is not None:
        _delete_row(session, row, "Deleted", "deleted by `axis delete`", now if now is not None else time.time())
    return row


def get_row(session: Session, kind: Kind, name: str) -> DesiredObject | None:
    return session.exec(select(DesiredObject).where(DesiredObject.kind == kind,
                                                     DesiredObject.name == name)).first()


def list_rows(session: Session, kind: Kind) -> list[DesiredObject]:
    return list(session.exec(select(DesiredObject).where(DesiredObject.kind == kind)
                             .order_by(col(DesiredObject.name))).all())


def objects_fingerprint(session: Session) -> tuple[int, float]:
    """How many objects there are and when the newest changed: one aggregate query that a
    controller polls every second, reading the larger `object_versions` only when it moves.
    (A change it misses, e.g. under a clock stepped back, still reaches the host at its resync:
    every pass reads the desired state afresh.)"""
    count, newest = session.exec(select(func.count(), func.max(DesiredObject.updated_at))).one()
    return int(count), float(newest or 0.0)


def object_versions(session: Session) -> dict[tuple[str, str], float]:
    """(kind, name) → when the object last changed: a cheap fingerprint of the whole desired state,
    for a controller to notice what another process (`axis apply`, the API) stored."""
    rows = session.exec(select(DesiredObject.kind, DesiredObject.name, DesiredObject.updated_at)).all()
    return {(kind, name): updated for kind, name, updated in rows}


def valid_models(session: Session, model: type[M]) -> list[M]:
    """Every stored object of `model`'s kind that still validates, in name order."""
    return valid(list_rows(session, next(k for k, m in MODELS.items() if m is model)), model)


def desired_hosts(session: Session) -> tuple[list[Host], list[HostProfile]]:
    """All stored hosts and profiles that validate, as models, for computing effective features."""
    return valid_models(session, Host), valid_models(session, HostProfile)


def desired_claims(session: Session) -> list[Claim]:
    return valid_models(session, Claim)
