"""The event log: what happened to which object and why, newest last."""

from __future__ import annotations

import time

from sqlalchemy import text
from sqlmodel import Session, col, delete, select

from axis.state.tables import Event

#: The log is append-only but bounded, so a controller running for months stays small.
MAX_EVENTS = 20_000


#: Plain SQL with named parameters: each dialect's placeholders, compiled once (SQLAlchemy's cache).
_INSERT = text("INSERT INTO events (time, kind, name, type, reason, message) "
               "VALUES (:time, :kind, :name, :type, :reason, :message)")


def record_event(session: Session, kind: str, name: str, reason: str, message: str = "",
                 *, type: str = "Normal", now: float | None = None) -> None:
    """Append an event in the caller's transaction.

    Written at once as one plain INSERT rather than added to the ORM session: a lease bind writes
    an event every time, and the unit-of-work flush used to be half of a bind's cost.
    """
    session.connection().execute(_INSERT, {"time": now if now is not None else time.time(), "kind": kind,
                                           "name": name, "type": type, "reason": reason, "message": message})


def list_events(session: Session, *, kind: str | None = None, name: str | None = None,
                limit: int | None = None, after_id: int = 0) -> list[Event]:
    """Events oldest first; with `limit`, the newest `limit` of them."""
    query = select(Event).where(col(Event.id) > after_id)
    if kind:
        query = query.where(Event.kind == kind)
    if name:
        query = query.where(Event.name == name)
    if limit:
        rows = session.exec(query.order_by(col(Event.id).desc()).limit(limit)).all()
        return list(reversed(rows))
    return list(session.exec(query.order_by(col(Event.id))).all())


def trim_events(session: Session, keep: int = MAX_EVENTS) -> None:
    newest = session.exec(select(Event.id).order_by(col(Event.id).desc()).offset(keep).limit(1)).first()
    if newest is not None:
        session.exec(delete(Event).where(col(Event.id) <= newest))
