"""A controller's membership among the controllers sharing one state DB: its heartbeat, the hosts
it may reconcile and whether it leads, renewed by one tick every lease/3 (`axis.state.ownership`).

What a tick grants holds only until a local deadline, measured on this process's monotonic
clock from the tick's start: the lease minus a third of it. A controller that was paused (SIGSTOP,
a frozen VM) past its deadline starts no pass and does no leader's work until a tick renews
its rows; a renewal of a row another controller took in the meantime changes nothing, so what
it resumes with is only what it still holds. A pass already in flight starts no further step
once the grant lapsed (`host_slot.Slot.lapse`) and is refused at its record (`Fenced`), never
written over a newer holder's.

On SQLite one controller runs at a time (its flock, `axis.state.lock.ControllerLock`): that one is
`sole` and the same code runs, except that every other registered controller is known to be gone
(a crashed one's rows are taken at once, not after its lease) and it holds every host.

Leases are measured on the state DB's clock (`axis.state.controllers.lease_time`: on PostgreSQL
the server's, read in the tick's and the fence's transaction), never on each machine's own. The
clocks are injectable (`clock`: the lease clock instead of the DB's; `monotonic`: the deadline),
so tests and simulations run many members in one process with no real waiting.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable

from sqlmodel import Session

from axis.reconcile.supervisor import describe
from axis.state import Database
from axis.state.controllers import Member, beat, default_name, evict_others, lease_time, live_names, mark_stopped
from axis.state.ownership import Share, check_fence, check_leader_fence, release_all, share

logger = logging.getLogger(__name__)

#: `axis controller --lease`'s default (seconds): a killed controller's hosts move within 2× this.
DEFAULT_LEASE = 15.0


class Membership:
    def __init__(self, db: Database, name: str | None = None, *, lease: float = DEFAULT_LEASE,
                 sole: bool = False, clock: Callable[[], float] | None = None,
                 monotonic: Callable[[], float] = time.monotonic, presence: Callable[[], object] = lambda: None):
        """`sole`: this process holds the one-controller lock of the state DB (see above);
        `clock`: the lease clock (default: the state DB's, `lease_time`); `presence`: called before
        every due tick to keep this process seen as a running controller (on PostgreSQL,
        `ControllerPresence.ensure`: its lock taken again when its connection was lost)."""
        self.db, self.lease, self.sole = db, lease, sole
        self.member = Member(name or default_name(), lease, os.getpid(), socket.gethostname())
        self.clock, self.monotonic, self.presence = clock, monotonic, presence
        self.share = Share()
        self._deadline = -float("inf")
        self._due = -float("inf")
        self._was_leader: bool | None = None
        #: the DB as the leader writes it: each write transaction checks first that this
        #: controller still leads with the token its last tick was granted (else Fenced); a sole
        #: controller's flock already keeps every other controller off the DB
        self.leader_db = db if sole else db.fenced(lambda session: check_leader_fence(
            session, self.name, self.share.leader_token if self.active else None, self.now(session)))

    @property
    def name(self) -> str:
        return self.member.name

    def tick(self, busy: frozenset[str] = frozenset()) -> Share:
        """Heartbeat, renew, balance and the leader role in one write transaction; what it grants
        holds until lease − lease/3 after `now` was read (on PostgreSQL, the server's clock under
        the write lock: a tick that waited for the lock is not cut short by the wait). `busy`:
        hosts with a pass in flight."""
        self._due = self.monotonic() + self.lease / 3
        with self.db.write() as session:
            now = self.now(session)
            started = self.monotonic()  # after `now`: this grant runs out before the rows it renews
            beat(session, self.member, now)
            if self.sole:
                evict_others(session, self.name, now)
            self.share = share(session, self.name, live_names(session, now), now=now, lease=self.lease, keep=busy)
        self._deadline = started + self.lease - self.lease / 3
        if self.share.leader != self._was_leader:  # said at its first tick, and at every change
            logger.info("controller %s %s", self.name, "leads: it applies the specs, binds claims and follows jobs"
                        if self.share.leader else "does not lead: it reconciles its share of the hosts only",
                        extra={"controller": self.name, "leader": self.share.leader})
            self._was_leader = self.share.leader
        return self.share

    def tick_if_due(self, busy: Callable[[], frozenset[str]]) -> None:
        """`tick` when it is due (`busy()`: the hosts with a pass in flight then, asked of every
        caller: a default would give those hosts away); a tick that fails
        (the DB unreachable) is logged and tried again at the next period, while what the last
        one granted runs out at its deadline."""
        if self.monotonic() < self._due:
            return
        self.presence()
        try:
            self.tick(busy())
        except Exception as exc:
            self._due = self.monotonic() + self.lease / 3
            logger.warning("%s: membership tick failed: %s", self.name, describe(exc),
                           extra={"controller": self.name, "error": describe(exc)})

    def due_now(self) -> None:
        """Tick at the next look (new hosts were stored: their rows should be taken at once)."""
        self._due = -float("inf")

    def seconds_to_tick(self) -> float:
        return max(0.0, self._due - self.monotonic())

    @property
    def active(self) -> bool:
        """Whether the last tick's grant is still in force (its local deadline has not passed). A
        sole controller's grant never runs out between ticks: no other controller can take its
        hosts (its flock), so a slow tick must not halt its passes; it has none after `leave`."""
        if self.sole:
            return self._deadline > -float("inf")
        return self.monotonic() < self._deadline

    @property
    def leader(self) -> bool:
        return self.share.leader and self.active

    def token(self, host: str) -> int | None:
        """The fencing token `host` is held with, None when a pass over it must not start now."""
        return self.share.hosts.get(host) if self.active else None

    def now(self, session: Session) -> float:
        """Now on the lease clock, read in `session`'s transaction."""
        return self.clock() if self.clock is not None else lease_time(session)

    def fence(self, host: str, token: int) -> Callable[[Session], None]:
        """The check a pass over `host` makes first in its record transaction (raises Fenced)."""
        return lambda session: check_fence(session, host, self.name, token, self.now(session))

    def leave(self) -> None:
        """Give back every host and the leader role, and say stopped: the others take over at their
        next tick, not after the lease runs out (a DB that fails now: they expire within it)."""
        self.share, self._deadline = Share(), -float("inf")
        try:
            with self.db.write() as session:
                release_all(session, self.name)
                mark_stopped(session, self.name, self.now(session))
        except Exception as exc:
            logger.warning("%s: could not give back its hosts: %s; they move when its lease runs out", self.name,
                           describe(exc), extra={"controller": self.name, "error": describe(exc)})
