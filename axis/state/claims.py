"""Claim placement status rows: phase (Pending, Bound, Expired, Released), host and reason.

The phase is stored, not derived from leases alone, because Expired and Released must survive
the lease they describe: they are why the claim is not bound again by the next pass.
"""

from __future__ import annotations

from sqlmodel import Session, select

from axis.state.tables import ClaimStatus

PENDING, BOUND, EXPIRED, RELEASED = "Pending", "Bound", "Expired", "Released"


def statuses(session: Session) -> dict[str, ClaimStatus]:
    return {row.claim: row for row in session.exec(select(ClaimStatus)).all()}


def get_status(session: Session, claim: str) -> ClaimStatus | None:
    return session.get(ClaimStatus, claim)


def set_status(session: Session, claim: str, phase: str, *, generation: int, now: float,
               host: str = "", reason: str = "") -> ClaimStatus:
    row = session.get(ClaimStatus, claim) or ClaimStatus(claim=claim, phase=phase, updated_at=now)
    row.phase, row.host, row.reason, row.observed_generation, row.updated_at = phase, host, reason, generation, now
    session.add(row)
    return row


def drop_status(session: Session, claim: str) -> None:
    row = session.get(ClaimStatus, claim)
    if row is not None:
        session.delete(row)
