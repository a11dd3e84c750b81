"""Observed facts per host: the latest observation plus a bounded history.

An observation is stored whatever its outcome (complete, partial, unreachable, error) so that
`axis status --cached` can say both what a host looked like and when it was last reachable.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import bindparam, func, insert
from sqlmodel import Session, col, delete, select

from axis.state.tables import FactsRecord

_TABLE = FactsRecord.__table__  # type: ignore[attr-defined]  # SQLModel's table: not in its stubs

#: Observations kept per host; older ones are dropped as new ones arrive.
HISTORY = 20


@dataclass(frozen=True)
class Observation:
    host: str
    status: str  # complete | partial | unreachable | error
    reason: str
    data: dict[str, Any] | None
    collected_at: float


def store_observations(session: Session, observations: Iterable[Observation], *, keep: int = HISTORY) -> None:
    """Insert a pass's observations in the caller's transaction and trim each host's history.

    Plain statements, not the ORM's unit of work: one INSERT for all of them and one DELETE per
    host (that finds its own cutoff), run on every host pass of a controller."""
    rows = [{"host": obs.host, "collected_at": obs.collected_at, "status": obs.status, "reason": obs.reason,
             "data": obs.data} for obs in observations]
    if not rows:
        return
    conn = session.connection()
    conn.execute(insert(_TABLE), rows)
    trim = _trim(keep)
    for host in dict.fromkeys(row["host"] for row in rows):
        conn.execute(trim, {"host": host})


@cache
def _trim(keep: int) -> Any:
    """Delete a host's observations older than its `keep` newest: everything up to the newest
    one past them (none past them: the subquery is NULL and nothing matches)."""
    host: Any = bindparam("host")
    cutoff = (select(_TABLE.c.id).where(_TABLE.c.host == host).order_by(_TABLE.c.id.desc())
              .offset(keep).limit(1).scalar_subquery())
    return delete(_TABLE).where(_TABLE.c.host == host, _TABLE.c.id <= cutoff)


def latest(session: Session) -> dict[str, FactsRecord]:
    """The newest observation of each host (one query, whatever the fleet size)."""
    newest = select(func.max(FactsRecord.id)).group_by(FactsRecord.host)
    return {row.host: row for row in session.exec(select(FactsRecord).where(col(FactsRecord.id).in_(newest))).all()}


def latest_with_data(session: Session, host: str) -> FactsRecord | None:
    """The newest observation that carried facts (an unreachable pass carries none)."""
    # JSON columns store Python None as the JSON text 'null', not SQL NULL: ask for an object
    # (SQLite's json_type, PostgreSQL's json_typeof).
    json_type = func.json_typeof if session.get_bind().dialect.name == "postgresql" else func.json_type
    return session.exec(select(FactsRecord).where(FactsRecord.host == host,
                                                  json_type(FactsRecord.data) == "object")
                        .order_by(col(FactsRecord.id).desc()).limit(1)).first()

