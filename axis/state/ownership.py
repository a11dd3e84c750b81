"""Ownership leases: which controller may reconcile which host, and which one leads.

One row per desired host (scope `host`) and one for the leader role (scope `role`, name
`leader`). A controller's membership tick (`share`) renews its rows, gives back what it holds
above its fair share and takes free or expired rows up to it; every change of holder is a
compare-and-set UPDATE (`WHERE holder = '' OR expires <= now`) that raises the row's fencing
`token`. A pass's record transaction calls `check_fence` first: a controller that was paused past
its expiry and overtaken finds another holder or a newer token there and writes nothing.

Plain SQLAlchemy Core (no dialect's own SQL): the same statements run on SQLite and PostgreSQL,
inside `Database.write()`, whose transactions take the DB's one write lock.

The shares: with n hosts and L live controllers each gets n // L, and n % L of them one more,
so no two shares differ by more than one. A controller takes the extra one only when the free
rows left exceed what the others still need to reach n // L, and only while fewer than n % L
others hold one; it gives its extra back when that many others hold one already. Which rows a
controller takes or gives back is chosen by a rendezvous hash of (controller, host), so shares
stay spread and stable as controllers come and go.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import and_, delete, insert, or_, select, update
import sqlmodel as models
from sqlmodel import Session

from axis.specs import Kind
from axis.state.tables import DesiredObject, Ownership

OWNERSHIP = Ownership.__table__  # type: ignore[attr-defined]  # SQLModel's table is untyped
HOST, ROLE, LEADER = "host", "role", "leader"
#: Rows taken or given back per statement (well under SQLite's bound-parameter limit).
BATCH = 500


class Fenced(Exception):
    """The host's ownership moved on (another holder, a newer token, or expired): the pass that
    raised this must write nothing."""


@dataclass(frozen=True)
class Share:
    """What one tick left a controller holding: host → fencing token, and the leader role's
    token (None: it does not lead)."""

    hosts: dict[str, int] = field(default_factory=dict)
    leader_token: int | None = None

    @property
    def leader(self) -> bool:
        return self.leader_token is not None


def rank(holder: str, name: str) -> int:
    """Rendezvous hash: a controller prefers the hosts it ranks highest."""
    return int.from_bytes(hashlib.blake2b(f"{holder}\0{name}".encode(), digest_size=8).digest(), "big")


def share(session: Session, me: str, live: list[str], *, now: float, lease: float,
          keep: frozenset[str] = frozenset()) -> Share:
    """One controller's ownership tick (see the module's docstring), in the caller's write
    transaction. `live`: the live controllers, `me` among them. `keep`: hosts with a pass in
    flight, never given back (the next holder would reconcile them at the same time)."""
    rows = _host_rows(session)
    session.execute(update(OWNERSHIP).where(OWNERSHIP.c.holder == me).values(expires=now + lease))
    rows = {name: (holder, now + lease if holder == me else expires) for name, (holder, expires) in rows.items()}
    held = Counter(holder for holder, expires in rows.values() if holder and expires > now)
    free = sorted((n for n, (holder, expires) in rows.items() if not holder or expires <= now), key=lambda n: -rank(me, n))
    mine = sorted((n for n, (holder, _expires) in rows.items() if holder == me), key=lambda n: -rank(me, n))
    base, extra = divmod(len(rows), max(1, len(live)))
    others = [c for c in live if c != me]
    with_extra = sum(1 for c in others if held[c] > base)
    cap = base + 1 if extra and with_extra < extra else base
    givable = [n for n in reversed(mine) if n not in keep]
    _give_back(session, HOST, givable[:max(0, len(mine) - cap)], me)
    want = max(0, base - len(mine))
    if cap > base and len(mine) <= base:
        needed_by_others = sum(max(0, base - held[c]) for c in others)
        want += 1 if len(free) - want - needed_by_others > 0 else 0
    while want > 0 and free:  # in batches: a first tick over 10,000 hosts is a few statements
        batch, free = free[:min(want, BATCH)], free[min(want, BATCH):]
        want -= _take(session, HOST, batch, me, now, lease)
    _take(session, ROLE, [LEADER], me, now, lease)
    tokens = session.execute(select(OWNERSHIP.c.scope, OWNERSHIP.c.name, OWNERSHIP.c.token)
                             .where(OWNERSHIP.c.holder == me)).all()  # after the takes
    return Share({r.name: r.token for r in tokens if r.scope == HOST},
                 next((r.token for r in tokens if r.scope == ROLE and r.name == LEADER), None))


def _host_rows(session: Session) -> dict[str, tuple[str, float]]:
    """Each desired host's (holder, expires), read once; a free row is made for a new host (and
    for the leader role), the rows of hosts no longer desired are deleted."""
    objects = DesiredObject.__table__  # type: ignore[attr-defined]  # SQLModel's table is untyped
    desired = set(session.execute(select(objects.c.name).where(objects.c.kind == Kind.HOST)).scalars().all())
    rows = session.execute(select(OWNERSHIP.c.scope, OWNERSHIP.c.name, OWNERSHIP.c.holder, OWNERSHIP.c.expires)).all()
    hosts = {r.name: (r.holder, r.expires) for r in rows if r.scope == HOST}
    missing = [{"scope": HOST, "name": n} for n in sorted(desired - hosts.keys())]
    if not any(r.scope == ROLE and r.name == LEADER for r in rows):
        missing.append({"scope": ROLE, "name": LEADER})
    if missing:
        session.execute(insert(OWNERSHIP), [dict(row, holder="", token=0, acquired=0.0, expires=0.0) for row in missing])
    gone = sorted(hosts.keys() - desired)
    for start in range(0, len(gone), BATCH):
        session.execute(delete(OWNERSHIP).where(and_(OWNERSHIP.c.scope == HOST,
                                                     OWNERSHIP.c.name.in_(gone[start:start + BATCH]))))
    return {n: hosts.get(n, ("", 0.0)) for n in desired}


def _take(session: Session, scope: str, names: list[str], me: str, now: float, lease: float) -> int:
    """Compare-and-set: each of `names` that is free or expired becomes mine with a new token;
    how many did (under the DB's write lock, all of those this transaction read as free)."""
    done = session.execute(update(OWNERSHIP).where(and_(
        OWNERSHIP.c.scope == scope, OWNERSHIP.c.name.in_(names), OWNERSHIP.c.holder != me,
        or_(OWNERSHIP.c.holder == "", OWNERSHIP.c.expires <= now))).values(
        holder=me, token=OWNERSHIP.c.token + 1, acquired=now, expires=now + lease))
    return int(done.rowcount)  # type: ignore[attr-defined]  # a CursorResult for an UPDATE


def _give_back(session: Session, scope: str, names: list[str], me: str) -> None:
    for start in range(0, len(names), BATCH):
        session.execute(update(OWNERSHIP).where(and_(
            OWNERSHIP.c.scope == scope, OWNERSHIP.c.name.in_(names[start:start + BATCH]),
            OWNERSHIP.c.holder == me)).values(holder="", expires=0.0))


def release_all(session: Session, me: str) -> None:
    """Give back every row `me` holds (a clean stop): the others take them at their next tick."""
    session.execute(update(OWNERSHIP).where(OWNERSHIP.c.holder == me).values(holder="", expires=0.0))


def check_fence(session: Session, host: str, me: str, token: int, now: float) -> None:
    """Raise Fenced unless `me` still holds `host` with `token`, unexpired at `now`; call it first
    in the transaction that records a pass, so that a refused pass writes nothing."""
    _check(session, HOST, host, me, token, now)


def check_leader_fence(session: Session, me: str, token: int | None, now: float) -> None:
    """Raise Fenced unless `me` still holds the leader role with `token` (None: the last tick did
    not grant it), unexpired at `now`: the leader's writes (spec stores, claims, jobs) call it
    first, so a leader paused past its lease writes nothing over its successor's."""
    if token is None:
        raise Fenced(f"{LEADER}: {me} does not lead")
    _check(session, ROLE, LEADER, me, token, now)


def _check(session: Session, scope: str, name: str, me: str, token: int, now: float) -> None:
    row = session.execute(select(OWNERSHIP.c.holder, OWNERSHIP.c.token, OWNERSHIP.c.expires).where(
        and_(OWNERSHIP.c.scope == scope, OWNERSHIP.c.name == name))).first()
    if row is None or row.holder != me or row.token != token or row.expires <= now:
        now_held = "nobody" if row is None or not row.holder else f"{row.holder} (token {row.token})"
        raise Fenced(f"{name}: ownership moved on: {me} held it with token {token}, now {now_held}")


def holders(session: Session, now: float) -> dict[str, Ownership]:
    """Each host's unexpired ownership row, by host (for the views)."""
    query = models.select(Ownership).where(Ownership.scope == HOST, Ownership.holder != "", Ownership.expires > now)
    return {row.name: row for row in session.exec(query).all()}


def leader(session: Session, now: float) -> str:
    """The leading controller's name, '' when none holds the role."""
    holder = session.execute(select(OWNERSHIP.c.holder).where(and_(
        OWNERSHIP.c.scope == ROLE, OWNERSHIP.c.name == LEADER, OWNERSHIP.c.expires > now))).scalar()
    return holder or ""
