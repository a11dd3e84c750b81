"""Status conditions: one row per (object, type), rebuilt from observation on every pass."""

from __future__ import annotations

from sqlmodel import Session, col, delete, select

from axis.state.tables import Condition


def set_condition(session: Session, kind: str, name: str, type: str, status: bool | None, reason: str,
                  message: str = "", *, generation: int, now: float, probed: float | None = None) -> bool:
    """Upsert a condition; return True when its status flipped (or it is new).

    Reason, message, observedGeneration and the probe time (`probed`: when the pass read the
    desired state; `now` if not given) always follow the latest pass; the transition time moves
    only on a flip, as in Kubernetes.
    """
    probed = now if probed is None else probed
    value = "Unknown" if status is None else "True" if status else "False"
    row = session.get(Condition, (kind, name, type))
    if row is None:
        session.add(Condition(kind=kind, name=name, type=type, status=value, reason=reason, message=message,
                              last_transition=now, observed_generation=generation, last_probe=probed))
        return True
    flipped = row.status != value
    if flipped:
        row.status, row.last_transition = value, now
    row.reason, row.message, row.observed_generation, row.last_probe = reason, message, generation, probed
    session.add(row)
    return flipped


def conditions_of(session: Session, kind: str, name: str | None = None) -> list[Condition]:
    query = select(Condition).where(Condition.kind == kind).order_by(col(Condition.name), col(Condition.type))
    if name is not None:
        query = query.where(Condition.name == name)
    return list(session.exec(query).all())


def drop_conditions(session: Session, kind: str, name: str) -> None:
    session.exec(delete(Condition).where(col(Condition.kind) == kind,
                                         col(Condition.name) == name))
