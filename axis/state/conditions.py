"""Status conditions: one row per (object, type), rebuilt from observation on every pass."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import case
from sqlmodel import Session, col, delete, select

from axis.state.tables import Condition

#: One condition as a pass sets it: (type, status, reason, message); status None is Unknown.
Setting = tuple[str, bool | None, str, str]


def set_condition(session: Session, kind: str, name: str, type: str, status: bool | None, reason: str,
                  message: str = "", *, generation: int, now: float, probed: float | None = None) -> bool:
    """Upsert a condition; return True when its status flipped (or it is new).

    Reason, message, observedGeneration and the probe time (`probed`: when the pass read the
    desired state; `now` if not given) always follow the latest pass; the transition time moves
    only on a flip, as in Kubernetes.
    """
    probed = now if probed is None else probed
    value = _value(status)
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


def put_conditions(session: Session, kind: str, name: str, settings: Sequence[Setting], *, generation: int,
                   now: float, probed: float) -> None:
    """`set_condition` for several conditions of one object, as one statement that asks nothing
    first: an upsert whose update moves the transition time only where the stored status differs
    (the database compares, in the row it updates). A host pass sets three conditions on every
    pass; through the ORM that was three reads and a flush of three updates."""
    session.connection().execute(_upsert(session.get_bind().dialect.name), [
        {"kind": kind, "name": name, "type": type, "status": _value(status), "reason": reason, "message": message,
         "last_transition": now, "observed_generation": generation, "last_probe": probed}
        for type, status, reason, message in settings])


def _value(status: bool | None) -> str:
    return "Unknown" if status is None else "True" if status else "False"


@cache
def _upsert(dialect: str) -> Any:
    """The conditions upsert in `dialect`'s words (SQLite and PostgreSQL both say ON CONFLICT):
    built once per dialect, so SQLAlchemy's statement cache finds it compiled. Only the dialect
    in use is imported."""
    table = Condition.__table__  # type: ignore[attr-defined]  # SQLModel's table: not in its stubs
    upsert: Any
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert
        upsert = pg_insert(table)
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert
        upsert = sqlite_insert(table)
    new = upsert.excluded
    return upsert.on_conflict_do_update(index_elements=["kind", "name", "type"], set_={
        # every SET expression reads the row as it was: the old status decides the flip
        "last_transition": case((table.c.status == new.status, table.c.last_transition), else_=new.last_transition),
        "status": new.status, "reason": new.reason, "message": new.message,
        "observed_generation": new.observed_generation, "last_probe": new.last_probe})


def conditions_of(session: Session, kind: str, name: str | None = None) -> list[Condition]:
    query = select(Condition).where(Condition.kind == kind).order_by(col(Condition.name), col(Condition.type))
    if name is not None:
        query = query.where(Condition.name == name)
    return list(session.exec(query).all())


def drop_conditions(session: Session, kind: str, name: str) -> None:
    session.exec(delete(Condition).where(col(Condition.kind) == kind,
                                         col(Condition.name) == name))
