"""Claim placement status rows: phase (Pending, Bound, Expired, Released), host and reason.

The phase is stored, not derived from leases alone, because Expired and Released must survive
the lease they describe: they are why the claim is not bound again by the next pass.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel import Session, select

from axis.state.tables import ClaimStatus


_UPSERT = text("""INSERT INTO claim_status (claim, phase, host, reason, observed_generation, updated_at)
    VALUES (:claim, :phase, :host, :reason, :generation, :now)
    ON CONFLICT (claim) DO UPDATE SET phase = excluded.phase, host = excluded.host, reason = excluded.reason,
        observed_generation = excluded.observed_generation, updated_at = excluded.updated_at""")


def statuses(session: Session) -> dict[str, ClaimStatus]:
    return {row.claim: row for row in session.exec(select(ClaimStatus)).all()}


def get_status(session: Session, claim: str) -> ClaimStatus | None:
    return session.get(ClaimStatus, claim)


def set_status(session: Session, claim: str, phase: str, *, generation: int, now: float,
               host: str = "", reason: str = "") -> None:
    """Insert or overwrite the claim's status in one statement (an upsert: no read first)."""
    session.connection().execute(_UPSERT, dict(claim=claim, phase=phase, host=host, reason=reason,
                                                      generation=generation, now=now))


def drop_status(session: Session, claim: str) -> None:
    row = session.get(ClaimStatus, claim)
    if row is not None:
        session.delete(row)
