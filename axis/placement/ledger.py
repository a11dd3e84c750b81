"""The lease ledger: bind claims to hosts without ever over-committing one, renew, release, expire.

Binding is one write transaction (BEGIN IMMEDIATE, see `axis.state.db`) that re-reads the live
leases of the chosen host, checks its cap (memory total − 1 GiB headroom) and writes the lease.
SQLite lets one writer in at a time, so two binders — threads or separate processes — can both
pick the same host from a stale snapshot, but the second one sees the first one's lease in its
own transaction and, if the host is now full, learns what it holds and picks again.

Expired leases are swept at the start of every pass and free their memory at once. The claim then
becomes **Expired**, not Pending: a lease expires because nobody renewed it (`axis exec` renews
while it runs), i.e. its owner is gone. Re-binding such a claim by itself would hold capacity
forever for an abandoned claim — the leak that AXIS's 45-minute TTL existed to end — and might
move it to another host under a job still running on the first. An Expired (or Released) claim is
placed again when its spec changes (a new generation) or when `axis renew NAME` asks for it.
A claim deleted or pruned from specs releases its lease in the same transaction
(`axis.state.objects`); a deleted host's claims go back to Pending.

A Bound claim whose spec changes is checked against its host again, with its own lease not
counted: if the host still passes every filter and has the memory, the lease is resized in place
(event LeaseUpdated: the job keeps its host). Otherwise — the host no longer fits, or cannot be
checked now (unreachable, a new tool not probed yet) — the lease stays as bound and the claim says
why (event SpecNotApplied, once per reason); every pass checks again. It is never moved by
itself: a job may still run on the host (`axis exec` renews that lease), and moving it would leave
that memory unaccounted. `axis release` then `axis renew` places it afresh.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from sqlmodel import Session

from axis.placement.candidates import load_candidates
from axis.placement.infer import Need, infer
from axis.placement.scorer import Index, memory_reason, static_reasons
from axis.specs import Claim, Kind
from axis.state import Database, leases
from axis.state.claims import get_status, set_status, statuses
from axis.state.phases import BOUND, EXPIRED, PENDING, RELEASED
from axis.state.events import record_event
from axis.state.objects import get_row, list_rows
from axis.state.stored_specs import StoredSpecInvalid, to_model
from axis.state.tables import ClaimStatus, DesiredObject, Lease


class LedgerError(Exception):
    """A ledger request that cannot be honoured (no such claim, no lease); one plain line."""


@dataclass(frozen=True)
class Outcome:
    """What a pass did with one claim."""

    claim: str
    phase: str  # Bound | Pending; "" when another binder or a concurrent change settled it
    host: str = ""
    reason: str = ""


@dataclass(frozen=True)
class _Bind:
    lease: Lease | None
    held: int  # what the host's live leases hold after this transaction
    full: bool = False  # the host had no room: pick again
    reason: str = ""


def sweep(session: Session, *, now: float) -> list[str]:
    """End every expired lease (its claim becomes Expired); return the claims that expired."""
    ended = []
    for lease in leases.expired(session, now=now):
        leases.end(session, lease, reason="Expired", message="not renewed within its ttl", now=now)
        row = get_row(session, Kind.CLAIM, lease.claim)
        set_status(session, lease.claim, EXPIRED, generation=row.generation if row else 0, now=now,
                   host=lease.host, reason=f"lease on {lease.host} expired (not renewed within its ttl); "
                                           f"`axis renew {lease.claim}` or a spec change places it again")
        ended.append(lease.claim)
    return ended


def bind(session: Session, *, claim: str, generation: int, host: str, cap: int, need: Need, gpu: bool,
         ttl: int, now: float) -> _Bind:
    """Check the host's cap against its live leases and write the lease, in the caller's write
    transaction; nothing is written unless the claim (same generation) and host still exist."""
    view = leases.bind_view(session, claim=claim, host=host, now=now)
    if view.generation != generation:
        return _Bind(None, -1, reason="the claim changed or was deleted meanwhile")
    if not view.host_exists:
        return _Bind(None, -1, reason=f"host {host} was deleted meanwhile")
    if view.leased_on is not None:
        return _Bind(None, -1, reason=f"already holds a lease on {view.leased_on}")
    held = view.held
    if held + need.memory > cap:
        return _Bind(None, held, full=True)
    lease = leases.grant(session, claim=claim, host=host, memory=need.memory, gpu=gpu, ttl=ttl, now=now)
    set_status(session, claim, BOUND, generation=generation, now=now, host=host)
    return _Bind(lease, held + need.memory)


def place_claims(db: Database, *, now: float, names: Iterable[str] | None = None) -> list[Outcome]:
    """One pass: sweep expired leases, then bind every claim that wants a host.

    Claims that want a host: new ones, Pending ones, and Expired/Released ones whose spec changed
    since; `names` picks claims explicitly (`axis renew`), whatever their phase. Facts are the
    newest stored per host; a host never observed is rejected with that reason. Claims are
    placed in name order, so a pass is deterministic.
    """
    with db.write() as session:
        sweep(session, now=now)
    wanted = set(names) if names is not None else None
    with db.read() as session:
        seen = statuses(session)
        held = {lease.claim: lease for lease in leases.all_leases(session)}
        rows = list_rows(session, Kind.CLAIM)
        changed = [(row, held[row.name]) for row in rows if row.name in held and _spec_changed(seen.get(row.name), row)
                   and (wanted is None or row.name in wanted)]
        todo = [row for row in rows
                if row.name not in held and (row.name in wanted if wanted is not None
                                             else _wants_host(seen.get(row.name), row))]
        if not todo and not changed:
            return []
        index = Index(load_candidates(session, now=now))
    outcomes = [_recheck(db, index, row, lease, now) for row, lease in changed]
    outcomes += [_place_one(db, index, row, now) for row in todo]
    pending = [o for o in outcomes if o.phase == PENDING]
    if pending:
        with db.write() as session:
            for outcome in pending:
                _mark_pending(session, outcome, now)
    return outcomes


def _wants_host(status: ClaimStatus | None, row: DesiredObject) -> bool:
    if status is None or status.phase in (PENDING, BOUND):  # Bound without a lease: the row is stale
        return True
    return status.observed_generation != row.generation  # Expired/Released: only a changed spec


def _spec_changed(status: ClaimStatus | None, row: DesiredObject) -> bool:
    """A leased claim bound at an older generation of its spec."""
    return status is not None and status.phase == BOUND and status.observed_generation != row.generation


def _recheck(db: Database, index: Index, row: DesiredObject, lease: Lease, now: float) -> Outcome:
    """Resize the lease of a bound claim whose spec changed if its host still fits the new need;
    otherwise leave the lease alone and say why (see the module docstring). A stored spec this
    axis no longer accepts leaves its lease alone too: the other claims are still placed."""
    try:
        claim = to_model(row, Claim)
    except StoredSpecInvalid as exc:
        return Outcome(row.name, "", host=lease.host, reason=str(exc))
    need = infer(claim.spec).need
    host = index.get(lease.host)
    with db.write() as session:
        current, status = leases.find(session, row.name), get_status(session, row.name)
        fresh = get_row(session, Kind.CLAIM, row.name)
        if (current is None or current.host != lease.host or fresh is None or fresh.generation != row.generation
                or status is None or status.observed_generation == row.generation):
            return Outcome(row.name, "", reason="another binder or a spec change settled it meanwhile")
        others = leases.held_on(session, current.host, now=now) - current.memory_bytes
        if host is None or host.problem:  # unreachable for now: nothing to judge it by
            reasons = [f"{current.host} cannot be checked now ({host.problem if host else 'not a candidate'})"]
        else:
            own = replace(host, leased=others)
            reasons = static_reasons(need, own) + [r for r in [memory_reason(need, own)] if r]
        if reasons:
            why = (f"spec changed (generation {row.generation}) but {'; '.join(reasons)}: the lease on "
                   f"{current.host} stays as bound; `axis release {row.name}` places it afresh")
            if status.reason != why:
                record_event(session, Kind.CLAIM, row.name, "SpecNotApplied", why, type="Warning", now=now)
            set_status(session, row.name, BOUND, generation=status.observed_generation, now=now,
                       host=current.host, reason=why)
            return Outcome(row.name, "", host=current.host, reason=why)
        assert host is not None  # no candidate always gives a reason, returned above
        gpu = need.gpu_wanted and host.gpu is not None
        leases.resize(session, current, memory=need.memory, gpu=gpu,
                      message=f"spec changed (generation {row.generation}); still fits {current.host}", now=now)
        set_status(session, row.name, BOUND, generation=row.generation, now=now, host=current.host)
    index.set_leased(current.host, others + need.memory)
    return Outcome(row.name, BOUND, host=current.host)


def _place_one(db: Database, index: Index, row: DesiredObject, now: float) -> Outcome:
    """Bind one claim to the best host that fits; a stored spec this axis no longer accepts stays
    Pending with that reason (the other claims are still placed)."""
    try:
        claim = to_model(row, Claim)
    except StoredSpecInvalid as exc:
        return Outcome(row.name, PENDING, reason=str(exc))
    need = infer(claim.spec).need
    for _attempt in range(len(index.hosts) + 1):  # each "full" answer lowers one host for good
        host = index.choose(need)
        if host is None:
            return Outcome(row.name, PENDING, reason=index.placement(need).why_not())
        with db.write() as session:
            result = bind(session, claim=row.name, generation=row.generation, host=host.name, cap=host.cap,
                          need=need, gpu=need.gpu_wanted and host.gpu is not None, ttl=claim.spec.ttl, now=now)
        if result.held >= 0:
            index.set_leased(host.name, result.held)
        if result.lease is not None:
            return Outcome(row.name, BOUND, host=host.name)
        if not result.full:
            return Outcome(row.name, "", reason=result.reason)
    return Outcome(row.name, PENDING, reason="hosts kept filling up while this pass placed the claim")


def _mark_pending(session: Session, outcome: Outcome, now: float) -> None:
    """Record why a claim waits; an event only when the reason changes (a pass a minute would
    otherwise fill the log). Skipped if a concurrent binder bound it meanwhile."""
    if leases.find(session, outcome.claim) is not None:
        return
    row = get_row(session, Kind.CLAIM, outcome.claim)
    if row is None:
        return
    before = get_status(session, outcome.claim)
    if before is None or before.phase != PENDING or before.reason != outcome.reason:
        record_event(session, Kind.CLAIM, outcome.claim, "FailedPlacement", outcome.reason, type="Warning", now=now)
    set_status(session, outcome.claim, PENDING, generation=row.generation, now=now, reason=outcome.reason)


def extend_live(db: Database, claim: str, *, now: float, ttl: int | None = None,
                host: str | None = None) -> Lease | None:
    """Extend the claim's lease by `ttl` (default: the claim's own) if it is still live — and,
    with `host`, still on that host: a command running on the old host must not keep alive a
    lease the claim was given elsewhere after a release."""
    with db.write() as session:
        lease = leases.find(session, claim)
        if lease is None or lease.expires <= now or (host is not None and lease.host != host):
            return None
        row = get_row(session, Kind.CLAIM, claim)
        if row is None:
            return None
        claim_ttl = to_model(row, Claim).spec.ttl
        return leases.extend(session, lease, ttl=ttl or claim_ttl, now=now)


def renew(db: Database, claim: str, *, now: float, ttl: int | None = None) -> Lease:
    """Extend a live lease; an unbound claim (Pending, Expired, Released) is placed again now."""
    with db.read() as session:
        if get_row(session, Kind.CLAIM, claim) is None:
            raise LedgerError(f"claim {claim!r} not found")
    lease = extend_live(db, claim, now=now, ttl=ttl)
    if lease is not None:
        return lease
    outcomes = place_claims(db, now=now, names=[claim])
    with db.write() as session:
        lease = leases.find(session, claim)
        if lease is None:
            reason = outcomes[0].reason if outcomes else "it could not be placed"
            raise LedgerError(f"claim {claim!r} is not bound: {reason}")
        if ttl:
            lease = leases.extend(session, lease, ttl=ttl, now=now)
    return lease


def release(db: Database, claim: str, *, now: float) -> Lease:
    """Free the claim's lease; the claim stays Released until renewed or changed."""
    with db.write() as session:
        row = get_row(session, Kind.CLAIM, claim)
        if row is None:
            raise LedgerError(f"claim {claim!r} not found")
        lease = leases.find(session, claim)
        if lease is None:
            raise LedgerError(f"claim {claim!r} holds no lease")
        leases.end(session, lease, reason="Released", message="released by `axis release`", now=now)
        set_status(session, claim, RELEASED, generation=row.generation, now=now, host=lease.host,
                   reason=f"released by `axis release`; `axis renew {claim}` or a spec change places it again")
    return lease
