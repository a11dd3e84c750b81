"""Lease rows: memory held on a host by a bound claim until `expires`.

A lease is live while `expires > now`; callers pass `now`, so expiry is decided by the caller's
clock once per pass and tests control time without sleeping. Every change is also an event on
the claim (Bound, Renewed, Released, Expired), in the caller's transaction: the ledger
(`axis.placement.ledger`) decides when; this module only reads and writes rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, text
from sqlmodel import Session, col, select

from axis.specs import Kind
from axis.specs.units import format_duration, human_size
from axis.state.events import record_event
from axis.state.tables import Lease


@dataclass(frozen=True)
class BindView:
    """What a bind must know, read in one statement inside its write transaction."""

    generation: int | None  # the claim's, None when it is gone
    host_exists: bool
    leased_on: str | None  # the host of the claim's existing lease, if any
    held: int  # memory of the host's live leases


def leased_by_host(session: Session, *, now: float) -> dict[str, int]:
    """Memory held by live leases, per host (one query)."""
    query = (select(Lease.host, func.sum(Lease.memory_bytes)).where(col(Lease.expires) > now)
             .group_by(col(Lease.host)))
    return {host: int(total) for host, total in session.exec(query).all()}


def held_on(session: Session, host: str, *, now: float) -> int:
    """Memory held by live leases on one host, read inside the caller's transaction."""
    total = session.exec(select(func.sum(Lease.memory_bytes))
                         .where(Lease.host == host, col(Lease.expires) > now)).one()
    return int(total or 0)


_BIND_VIEW = text("""SELECT
    (SELECT generation FROM objects WHERE kind = :claim_kind AND name = :claim),
    EXISTS (SELECT 1 FROM objects WHERE kind = :host_kind AND name = :host),
    (SELECT host FROM leases WHERE claim = :claim),
    (SELECT COALESCE(SUM(memory_bytes), 0) FROM leases WHERE host = :host AND expires > :now)""")


def bind_view(session: Session, *, claim: str, host: str, now: float) -> BindView:
    """One statement, sent as plain SQL: a pass binding thousands of claims pays the per-statement
    cost of the ORM on every bind, and the bench target is a bind under 2 ms."""
    row = session.connection().execute(_BIND_VIEW, {"claim": claim, "host": host, "now": now,
                                                                     "claim_kind": Kind.CLAIM, "host_kind": Kind.HOST}).one()
    return BindView(row[0], bool(row[1]), row[2], int(row[3]))


def find(session: Session, claim: str) -> Lease | None:
    """The claim's lease, live or not yet swept."""
    return session.get(Lease, claim)


def on_host(session: Session, host: str) -> list[Lease]:
    return list(session.exec(select(Lease).where(Lease.host == host).order_by(col(Lease.claim))).all())


def all_leases(session: Session) -> list[Lease]:
    return list(session.exec(select(Lease).order_by(col(Lease.host), col(Lease.claim))).all())


def expired(session: Session, *, now: float) -> list[Lease]:
    return list(session.exec(select(Lease).where(col(Lease.expires) <= now).order_by(col(Lease.claim))).all())


_GRANT = text("INSERT INTO leases (claim, host, memory_bytes, gpu, acquired, renewed, expires) "
              "VALUES (:claim, :host, :memory, :gpu, :now, :now, :expires)")


def grant(session: Session, *, claim: str, host: str, memory: int, gpu: bool, ttl: int, now: float) -> Lease:
    session.connection().execute(_GRANT, {"claim": claim, "host": host, "memory": memory, "gpu": gpu, "now": now,
                                          "expires": now + ttl})  # plain SQL for the same reason as bind_view
    record_event(session, Kind.CLAIM, claim, "Bound",
                 f"on {host}: {human_size(memory)}{' + GPU' if gpu else ''}, ttl {format_duration(ttl)}", now=now)
    return Lease(claim=claim, host=host, memory_bytes=memory, gpu=gpu, acquired=now, renewed=now, expires=now + ttl)


def extend(session: Session, lease: Lease, *, ttl: int, now: float) -> Lease:
    lease.renewed, lease.expires = now, now + ttl
    session.add(lease)
    record_event(session, Kind.CLAIM, lease.claim, "Renewed", f"on {lease.host} for {format_duration(ttl)}", now=now)
    return lease


def resize(session: Session, lease: Lease, *, memory: int, gpu: bool, message: str, now: float) -> Lease:
    """Give a lease a claim's new memory and GPU need on the same host; its expiry is unchanged.
    An event only when the lease really changes (a new ttl or task alone resizes nothing)."""
    if (lease.memory_bytes, lease.gpu) == (memory, gpu):
        return lease
    before = f"{human_size(lease.memory_bytes)}{' + GPU' if lease.gpu else ''}"
    lease.memory_bytes, lease.gpu = memory, gpu
    session.add(lease)
    record_event(session, Kind.CLAIM, lease.claim, "LeaseUpdated",
                 f"{message}: {before} → {human_size(memory)}{' + GPU' if gpu else ''}", now=now)
    return lease


def end(session: Session, lease: Lease, *, reason: str, message: str, now: float) -> None:
    """Remove a lease (its memory is free at once) and say why: Released or Expired."""
    session.delete(lease)
    record_event(session, Kind.CLAIM, lease.claim, reason,
                 f"{human_size(lease.memory_bytes)} on {lease.host} freed: {message}",
                 type="Warning" if reason == "Expired" else "Normal", now=now)
