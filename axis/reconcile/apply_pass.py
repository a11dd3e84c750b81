"""What `axis apply` does, for every front end (CLI, HTTP API): store, converge, bind; and the
controller's store of its watched directory (`store_watched`), so that every store is here.

Two halves so that a front end can show progress between them: `store` writes the desired
objects in one transaction (rolled back for a dry run) and says which hosts they concern;
`finish` converges those hosts, binds pending claims and records the claims' conditions.

A store-only apply (`--no-converge`, `?converge=false`) stops after `store`: it contacts no host,
binds no claim and takes no lease (the README promises exactly that, and a user who stores a
fleet to look at it first must not find capacity already held). Binding is left to the next
converging apply or to the controller's claims pass. Storing can still end leases, as any store
does: a claim deleted or pruned releases its lease, a deleted host sends its claims back to Pending.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlmodel import Session

from axis.drivers.connector import Connector
from axis.placement.ledger import Outcome
from axis.reconcile.converge import HostOutcome
from axis.reconcile.host_pass import HostWork, converge_fleet, plan_work
from axis.reconcile.observe import claim_tools
from axis.reconcile.record import bind_claims, record_spec_invalid
from axis.specs import Host, HostProfile, Kind, Loaded, SpecErrors
from axis.specs.effective import effective_features, matching_profiles
from axis.state import Database
from axis.state.sources import mark_applied
from axis.state.objects import (
    Change,
    apply_objects,
    desired_claims,
    desired_hosts,
    object_versions,
    objects_fingerprint,
)

#: `report_spec_errors` writes to the controller's own log, under the name its lines always had.
logger = logging.getLogger("axis.reconcile.controller")


@dataclass
class Stored:
    dry_run: bool
    changes: list[Change]
    warnings: list[str]
    work: list[HostWork]
    tools: list[str]
    #: pid of the controller that converges these hosts instead of this apply (see `store`)
    controller: str | None = None
    #: the hosts handed to that controller, and when the transaction that stored them committed
    handed: list[str] = field(default_factory=list)
    stored_at: float = 0.0
    #: stored only (`--no-converge`): `finish` contacts no host and binds no claim
    store_only: bool = False


@dataclass
class Applied:
    stored: Stored
    outcomes: list[HostOutcome] = field(default_factory=list)
    placed: list[Outcome] = field(default_factory=list)


def work_for(session: Session, hosts: list[Host], profiles: list[HostProfile], loaded: list[Loaded], *,
             also: set[str], planned_at: float) -> tuple[list[HostWork], list[str]]:
    """The hosts these objects concern (their Hosts, hosts their profiles match, and the hosts
    named in `also`), planned from the stored `hosts` and `profiles` as they stand in `session`,
    and the tools claims ask for (probed with the facts)."""
    named = also | {item.obj.metadata.name for item in loaded if isinstance(item.obj, Host)}
    applied_profiles = [item.obj for item in loaded if isinstance(item.obj, HostProfile)]
    chosen = [h for h in hosts if h.metadata.name in named
              or any(p.spec.selector.matches(h.metadata.labels) for p in applied_profiles)]
    return plan_work(session, chosen, profiles, planned_at=planned_at), claim_tools(desired_claims(session))


def _effective(hosts: list[Host], profiles: list[HostProfile]) -> dict[str, dict[str, object]]:
    """Every host's effective features as data, to see whose a store changed."""
    return {h.metadata.name: {n: f.to_data() for n, f in effective_features(h, profiles).items()} for h in hosts}


def store(db: Database, loaded: list[Loaded], *, apply_sets: list[str] | None = None, prune: bool = False,
          dry_run: bool = False, converge: bool = True, controller: str | None = None) -> Stored:
    """Store `loaded` in one transaction and plan the hosts it concerns.

    With `controller` (the pid of a controller reconciling this state DB) a real apply stores and
    leaves converging to it, as `kubectl apply` leaves it to the cluster: two processes writing
    the same host files at once would each find the other's writes and fail their verify step.
    The controller notices the stored change within a second."""
    store_only = not converge and not dry_run
    hand_over = converge and not dry_run and controller is not None
    converge = converge and (dry_run or controller is None)
    # a profile narrowed or pruned changes hosts it no longer matches: they are concerned too
    # (only then is every host's effective state compared: it costs ~50 ms at 1,000 hosts)
    compare = (converge or hand_over) and (prune or any(isinstance(i.obj, HostProfile) for i in loaded))
    began = time.time()
    with db.write() as session:
        before = _effective(*desired_hosts(session)) if compare else {}
        changes = apply_objects(session, loaded, prune=prune, apply_sets=apply_sets or [])
        hosts, profiles = desired_hosts(session)
        if converge or hand_over:
            after = _effective(hosts, profiles) if compare else {}
            moved = {name for name, features in after.items() if before.get(name, features) != features}
            work, tools = work_for(session, hosts, profiles, loaded, also=moved, planned_at=began)
        else:
            work, tools = [], []
        if dry_run:
            session.rollback()
    committed = time.time()
    warnings = [f"{Kind.HOST_PROFILE}/{p.metadata.name} matches no host" for p in profiles
                if not any(p in matching_profiles(h, [p]) for h in hosts)]
    if hand_over:
        return Stored(dry_run, changes, warnings, [], [], controller, [w.host.metadata.name for w in work], committed)
    return Stored(dry_run, changes, warnings, work, tools, None if dry_run else controller,
                  store_only=store_only)


@dataclass(frozen=True)
class WatchedStored:
    """What the controller's store of its watched directory changed, and the stored objects'
    versions read in the same transaction (so its poll never takes its own write for another's)."""

    changes: list[Change]
    hosts: set[str]
    versions: dict[tuple[str, str], float]
    fingerprint: tuple[int, float]


def store_watched(db: Database, loaded: list[Loaded], apply_set: str,
                  revision: tuple[str, str] | None = None) -> WatchedStored:
    """The controller's store: the whole watched set in one transaction, pruned as `axis apply
    --prune -f DIR` would; converging is the controller's queue's work, so nothing is planned.
    `revision`: (git source, revision) these objects are, marked applied in the same transaction."""
    with db.write() as session:
        changes = apply_objects(session, loaded, prune=True, apply_sets=[apply_set])
        if revision is not None:
            mark_applied(session, *revision, time.time())
        hosts = {h.metadata.name for h in desired_hosts(session)[0]}
        return WatchedStored(changes, hosts, object_versions(session), objects_fingerprint(session))


async def finish(db: Database, connector: Connector, stored: Stored, *, jobs: int = 16,
                 on_done: Callable[[HostOutcome], None] | None = None) -> Applied:
    """Converge the stored hosts, then bind pending claims; nothing at all for a store-only apply."""
    if stored.store_only:
        return Applied(stored)
    outcomes = await converge_fleet(db, connector, stored.work, dry_run=stored.dry_run, extra_tools=stored.tools,
                                    jobs=jobs, on_done=on_done)
    if stored.dry_run:
        return Applied(stored, outcomes)
    return Applied(stored, outcomes, bind_claims(db, time.time()))


def report_spec_errors(db: Database, exc: SpecErrors) -> None:
    """The controller's watched specs do not load: each error in the log (with file:line), and a
    Warning event with the first; the last good desired state stays in force."""
    for error in exc.errors:
        logger.error("spec error: %s", error, extra={"file": error.path, "line": error.line})
    logger.warning("%d error(s); the last good desired state stays in force", len(exc.errors),
                   extra={"errors": len(exc.errors)})
    with db.write() as session:
        record_spec_invalid(session, [str(e) for e in exc.errors])
