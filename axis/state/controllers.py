"""The registry of `axis controller` processes sharing one state DB: who is there, since when,
its last heartbeat, and whether it stopped cleanly. `axis.state.ownership` counts the live ones to
divide the hosts; `axis get controllers` shows them.

A controller is live while its heartbeat is younger than its own lease and it has not stopped:
its ownership rows expire at the same moment (both are written by the same tick), so a dead
controller's hosts become free exactly when it stops counting in the division.

Every lease is measured on one clock (`lease_time`): on PostgreSQL the server's, so controllers on
machines whose clocks disagree cannot both hold one host or both lead.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, delete, insert, select, text, update
import sqlmodel as models
from sqlmodel import Session

from axis.state.tables import ControllerMember, Ownership

CONTROLLERS = ControllerMember.__table__  # type: ignore[attr-defined]  # SQLModel's tables are untyped
OWNERSHIP = Ownership.__table__  # type: ignore[attr-defined]

#: A stopped or dead controller's row is kept this long (seconds) for `axis get controllers`.
FORGET_AFTER = 24 * 3600.0


def lease_time(session: Session) -> float:
    """Now (epoch seconds) on the clock leases are measured by. On PostgreSQL the server's, read
    in the caller's transaction after its write lock was taken (clock_timestamp(), not the
    transaction's start), so every controller, on whatever machine, compares expiries with the
    same clock; a machine's own clock, skewed by more than the lease, would let it take a host
    another controller still holds. On SQLite this machine's: every controller of the file runs here."""
    if session.get_bind().dialect.name == "postgresql":
        return float(session.execute(text("SELECT extract(epoch FROM clock_timestamp())")).scalar_one())
    return time.time()


def default_name() -> str:
    """`<machine>-<pid>-<4 hex>`: unique even when a pid is reused on the same machine."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(2)}"


@dataclass(frozen=True)
class Member:
    """How a controller introduces itself at every heartbeat."""

    name: str
    lease: float
    pid: int
    machine: str


def beat(session: Session, member: Member, now: float) -> None:
    """Heartbeat `member` (registering it on its first beat, or again after it was forgotten)."""
    done = session.execute(update(CONTROLLERS).where(CONTROLLERS.c.name == member.name).values(
        heartbeat=now, lease_seconds=member.lease, stopped=0.0))
    if done.rowcount == 0:  # type: ignore[attr-defined]  # a CursorResult for an UPDATE
        session.execute(insert(CONTROLLERS).values(name=member.name, pid=member.pid, machine=member.machine,
                                                   started=now, heartbeat=now, lease_seconds=member.lease,
                                                   stopped=0.0))
    session.execute(delete(CONTROLLERS).where(CONTROLLERS.c.heartbeat < now - FORGET_AFTER))


def mark_stopped(session: Session, name: str, now: float) -> None:
    session.execute(update(CONTROLLERS).where(CONTROLLERS.c.name == name).values(stopped=now))


def evict_others(session: Session, me: str, now: float) -> None:
    """Every controller but `me` is gone (`me` holds the DB's one-controller lock): marked stopped,
    its ownership rows free for `me` to take in the same tick."""
    session.execute(update(CONTROLLERS).where(and_(CONTROLLERS.c.name != me, CONTROLLERS.c.stopped == 0.0))
                    .values(stopped=now))
    session.execute(update(OWNERSHIP).where(and_(OWNERSHIP.c.holder != me, OWNERSHIP.c.holder != ""))
                    .values(holder="", expires=0.0))


def is_live(now: float) -> ColumnElement[bool]:
    """The rows of the controllers live at `now`: a heartbeat within its own lease, not stopped."""
    return and_(CONTROLLERS.c.stopped == 0.0, CONTROLLERS.c.heartbeat > now - CONTROLLERS.c.lease_seconds)


def live_names(session: Session, now: float) -> list[str]:
    """The controllers that count in the division of the hosts, by name."""
    return sorted(session.execute(select(CONTROLLERS.c.name).where(is_live(now))).scalars())


def members(session: Session) -> list[ControllerMember]:
    """Every registered controller, live or not, by name."""
    return list(session.exec(models.select(ControllerMember).order_by(ControllerMember.name)).all())


def state_of(row: ControllerMember, now: float) -> str:
    """Live, Stale (no heartbeat within its lease: dead or paused) or Stopped."""
    if row.stopped:
        return "Stopped"
    return "Live" if row.heartbeat > now - row.lease_seconds else "Stale"
