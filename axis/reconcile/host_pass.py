"""A converge pass over the fleet: plan the work from the DB, converge hosts concurrently, record.

The DB is read before and written once after (one transaction), never while hosts are being
talked to, so a slow host holds no lock and a pass costs two transactions whatever the fleet size.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlmodel import Session

from axis.drivers.connector import SshOptions
from axis.drivers.fan_out import fan_out
from axis.reconcile.converge import HostOutcome, converge_host
from axis.reconcile.record import record_outcome, settings_hashes
from axis.specs import Host, HostProfile, effective_features
from axis.specs.effective import EffectiveFeature
from axis.state import Database
from axis.state.feature_status import refused_steps
from axis.state.objects import get_row


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
        features = effective_features(host, profiles)
        row = get_row(session, "Host", host.metadata.name)
        work.append(HostWork(host, features, row.generation if row else 0,
                             refused_steps(session, host.metadata.name, settings_hashes(features)), planned_at))
    return work


async def converge_fleet(db: Database, ssh: SshOptions, work: list[HostWork], *, dry_run: bool,
                         extra_tools: list[str], jobs: int = 16, timeout: float = 900.0,
                         on_done: Callable[[HostOutcome], None] | None = None) -> list[HostOutcome]:
    """Converge the hosts of `work`; a dry run only plans and writes nothing."""

    async def one(item: HostWork) -> HostOutcome:
        return await converge_host(item.host, item.features, ssh, dry_run=dry_run, refused=item.refused,
                                   extra_tools=extra_tools, timeout=timeout)

    outcomes = await fan_out(work, one, jobs=jobs, on_done=(lambda _w, o: on_done(o)) if on_done else None)
    if not dry_run:
        now = time.time()
        with db.write() as session:
            for item, outcome in zip(work, outcomes, strict=True):
                record_outcome(session, outcome, item.features, generation=item.generation,
                               previously_refused=item.refused, now=now, probed=item.planned_at)
    return outcomes
