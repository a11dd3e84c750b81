"""Following a controller's passes for the hosts an `axis apply` handed to it.

An apply beside a running controller only stores (see `apply_pass.store`); for its exit code to
still say how the hosts ended up, it reads what the controller's passes record (conditions and
feature status, one transaction per pass). A host's result counts once either

- a pass read the desired state after the apply's commit: every condition carries `last_probe`,
  the time its pass began reading (taken before the read, so a later time than the commit means
  the read saw it); a host this apply changed needs such a pass; or
- for a host this apply did not change, its last pass planned what is stored now: the Host's
  generation, and the settings of every effective feature (profiles included) as its feature
  rows record them, or the host was unreachable under this generation. (An earlier apply with
  --no-wait may have changed it since that pass; then the next pass answers.)

Facts rows do not serve: `axis status` writes them too, and a pass stamps its facts when it
observes, after it planned.

Both times come from `time.time()` on this machine (controller and apply share the state DB),
so only a wall clock stepped backwards between the commit and the pass could mislead it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, select

from axis.reconcile.host_pass import plan_work
from axis.reconcile.record import settings_hashes
from axis.specs import Host, HostProfile, Kind
from axis.state.objects import Change, desired_hosts
from axis.state.tables import Condition, FeatureStatus


@dataclass(frozen=True)
class HandedResult:
    host: str
    ready: bool
    reason: str  # Ready, else why not: the Reachable or Converged reason (Unreachable, ApplyFailed, ...)
    message: str


def changed_hosts(changes: list[Change], handed: list[str]) -> set[str]:
    """Hosts whose desired state this apply changed: a changed profile may change all of them."""
    touched = [c for c in changes if c.action != "unchanged"]
    if any(c.kind == Kind.HOST_PROFILE for c in touched):
        return set(handed)
    return {c.name for c in touched if c.kind == Kind.HOST} & set(handed)


def handed_results(session: Session, handed: list[str], changed: set[str], since: float) -> dict[str, HandedResult]:
    """The hosts of `handed` the controller has answered for since `since` (the apply's commit),
    or that are gone from the state DB; the others are absent: their pass is still to come."""
    hosts, profiles = desired_hosts(session)
    desired = {h.metadata.name: h for h in hosts}
    results = {}
    for name in handed:
        if name not in desired:
            results[name] = HandedResult(name, False, "Deleted", "deleted from the state DB while apply waited")
            continue
        conditions = {t: session.get(Condition, (Kind.HOST, name, t)) for t in ("Reachable", "Converged", "Ready")}
        ready = conditions["Ready"]
        if ready is None:
            continue
        if ready.last_probe <= since and (name in changed or not _planned_as_stored(session, desired[name], profiles,
                                                                                  conditions["Reachable"])):
            continue
        why = next((c.reason for c in (conditions["Reachable"], conditions["Converged"])
                    if c is not None and c.status != "True"), ready.reason)
        results[name] = HandedResult(name, ready.status == "True", why, ready.message)
    return results


def _planned_as_stored(session: Session, host: Host, profiles: list[HostProfile], reachable: Condition | None) -> bool:
    """Whether the host's last pass planned the desired state stored now (see the module docstring)."""
    work = plan_work(session, [host], profiles, planned_at=0.0)[0]
    if reachable is None or reachable.observed_generation != work.generation:
        return False
    if reachable.status != "True":
        return True  # not reached: the features did not matter
    rows = session.exec(select(FeatureStatus).where(FeatureStatus.host == host.metadata.name)).all()
    return {r.feature: r.settings_hash for r in rows} == settings_hashes(work.features)
