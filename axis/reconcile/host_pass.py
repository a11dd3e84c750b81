"""One host's pass, the one reconcile path: plan what the host should be, converge it, record.

`reconcile_host` is what controller-runtime calls `Reconcile`: given one host's planned work it
converges the host and returns a `Reconciled` (the outcome, a way to record it, and a `Result`
telling the work queue what to do next: come back after `requeue_after` seconds, retry a
temporary error with backoff, or drop a host that is gone: None). Both of its users go through it:

- the controller (`reconcile_stored_host`): plans one host from the DB, reconciles it and
  records the pass in its own transaction; the controller itself is only the queue;
- `axis apply` (`converge_fleet`): plans every host in one read, reconciles them concurrently and
  records them all in one transaction afterwards, so a slow host holds no lock and the apply
  costs two transactions whatever the fleet size.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import and_, or_, select
from sqlmodel import Session

from axis.drivers.connector import Connector
from axis.drivers.fan_out import fan_out
from axis.reconcile.converge import PASS_TIMEOUT, HostOutcome, converge_host
from axis.reconcile.observe import claim_tools
from axis.reconcile.record import record_outcome, settings_hashes
from axis.specs import Claim, Host, HostProfile, Kind, effective_features
from axis.specs.effective import EffectiveFeature
from axis.state import Database
from axis.state.feature_status import refused_steps
from axis.state.objects import get_row
from axis.state.stored_specs import StoredSpecInvalid, to_model, valid
from axis.state.tables import DesiredObject
from axis.state.sources import planned_revision, record_source_pass

#: An apply's pass over one host must end within this many seconds (a controller's: PASS_TIMEOUT).
APPLY_TIMEOUT = 900.0


@dataclass(frozen=True)
class HostWork:
    host: Host
    features: dict[str, EffectiveFeature]
    generation: int
    refused: dict[str, dict[str, str]]
    #: when the desired state was read (taken before the reading transaction began): the pass's
    #: conditions carry it, so a reader knows whether the pass saw a given commit
    planned_at: float


def plan_work(session: Session, hosts: Iterable[Host], profiles: list[HostProfile], *,
              planned_at: float) -> list[HostWork]:
    """What each host should be, with its generation and the steps it refused before."""
    work = []
    for host in hosts:
        row = get_row(session, Kind.HOST, host.metadata.name)
        work.append(_host_work(session, host, profiles, row.generation if row else 0, planned_at))
    return work


def _host_work(session: Session, host: Host, profiles: list[HostProfile], generation: int,
               planned_at: float) -> HostWork:
    features = effective_features(host, profiles)
    return HostWork(host, features, generation, refused_steps(session, host.metadata.name, settings_hashes(features)),
                    planned_at)


def _plan_stored_host(session: Session, name: str, planned_at: float) -> tuple[HostWork, list[str], str] | None:
    """What the controller's pass over `name` plans from, read in one query of plain rows (the
    host's, every profile's and claim's) where it took four ORM ones: the work, the tools claims
    ask for, and the host's apply set; None when the host is not stored or no longer validates
    (listed with its reason elsewhere). Profiles and claims that no longer validate are left out."""
    table = DesiredObject.__table__  # type: ignore[attr-defined]  # SQLModel's table: not in its stubs
    rows = session.connection().execute(
        select(table.c.kind, table.c.name, table.c.labels, table.c.spec, table.c.source_path, table.c.source_line,
               table.c.generation, table.c.apply_set)
        .where(or_(and_(table.c.kind == Kind.HOST, table.c.name == name),
                   table.c.kind.in_([Kind.HOST_PROFILE, Kind.CLAIM])))
        .order_by(table.c.name)).all()
    row = next((r for r in rows if r.kind == Kind.HOST), None)
    if row is None:
        return None
    try:
        host = to_model(row, Host)
    except StoredSpecInvalid:
        return None
    profiles = valid((r for r in rows if r.kind == Kind.HOST_PROFILE), HostProfile)
    tools = claim_tools(valid((r for r in rows if r.kind == Kind.CLAIM), Claim))
    return _host_work(session, host, profiles, row.generation, planned_at), tools, row.apply_set


@dataclass(frozen=True)
class Result:
    """What the work queue does with a host after its pass (controller-runtime's Result and error).

    `error`: a temporary failure (unreachable, a step failed), retried after the queue's backoff.
    Otherwise the host converged and is due again after `requeue_after` seconds, so drift is found
    and repaired. (A host gone from the desired state has no pass: `reconcile_stored_host` says None.)"""

    requeue_after: float = 0.0
    error: str = ""


@dataclass(frozen=True)
class Reconciled:
    work: HostWork
    outcome: HostOutcome

    def record(self, session: Session, now: float) -> None:
        """Facts, feature status, conditions and events of this pass (see `record_outcome`)."""
        record_outcome(session, self.outcome, self.work.features, generation=self.work.generation,
                       previously_refused=self.work.refused, now=now, probed=self.work.planned_at)

    def result(self, resync: float) -> Result:
        if self.outcome.status == "failed":
            return Result(error=self.outcome.reason)
        return Result(requeue_after=resync)


async def reconcile_host(work: HostWork, connector: Connector, *, dry_run: bool, extra_tools: list[str],
                         timeout: float, stop: asyncio.Event | None = None) -> Reconciled:
    """Converge one host to its planned work; never raises for what a host does (see converge_host)."""
    outcome = await converge_host(work.host, work.features, connector, dry_run=dry_run, refused=work.refused,
                                  extra_tools=extra_tools, timeout=timeout, stop=stop)
    return Reconciled(work, outcome)


async def reconcile_stored_host(db: Database, name: str, connector: Connector, *,
                                stop: asyncio.Event | None = None,
                                fence: Callable[[Session], None] | None = None) -> Reconciled | None:
    """The controller's pass over host `name`: planned from the DB, reconciled, recorded in its
    own transaction; None when the host is no longer stored (the queue drops it). `fence` runs
    first in the record transaction: when it raises (`Fenced`), nothing of the pass is written.
    A host a git source stored also gets its `SourcePass` (the revision planned, how it ended)
    and its converged revision in that transaction, whichever controller holds it."""
    planned_at = time.time()  # before the read: the pass saw every commit made until then
    with db.read() as session:
        planning = _plan_stored_host(session, name, planned_at)  # this host only: a pass over one parses no other
        if planning is None:
            return None
        work, tools, apply_set = planning
        planned = planned_revision(session, apply_set)  # the git revision this desired state is
    reconciled = await reconcile_host(work, connector, dry_run=False, extra_tools=tools, timeout=PASS_TIMEOUT,
                                      stop=stop)
    with db.write() as session:
        if fence is not None:
            fence(session)
        now = time.time()
        reconciled.record(session, now)
        if planned is not None:  # what the leader's follower counts toward the revision's attempt
            record_source_pass(session, name, *planned, changed=reconciled.outcome.status == "changed",
                               failed=reconciled.outcome.status == "failed", now=now)
    return reconciled


async def converge_fleet(db: Database, connector: Connector, work: list[HostWork], *, dry_run: bool,
                         extra_tools: list[str], jobs: int = 16, timeout: float = APPLY_TIMEOUT,
                         on_done: Callable[[HostOutcome], None] | None = None) -> list[HostOutcome]:
    """Reconcile the hosts of `work` (an apply's); a dry run only plans and writes nothing."""

    async def one(item: HostWork) -> Reconciled:
        return await reconcile_host(item, connector, dry_run=dry_run, extra_tools=extra_tools, timeout=timeout)

    passes = await fan_out(work, one, jobs=jobs, on_done=(lambda _w, r: on_done(r.outcome)) if on_done else None)
    if not dry_run:
        now = time.time()
        with db.write() as session:
            for reconciled in passes:
                reconciled.record(session, now)
    return [r.outcome for r in passes]
