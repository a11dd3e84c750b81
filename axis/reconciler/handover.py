"""Following a controller's passes for the hosts an `axis apply` handed to it.

An apply beside a running controller only stores (see `apply_pass.store`); for its exit code to
still say how the hosts ended up, it reads what the controller records. A host's result counts
only once it reflects the desired state now stored:

- its newest observation is newer than the apply's commit when the apply changed the host (its
  Host object, or a profile: a pass that read the old spec could otherwise answer), and
- the feature rows of that pass carry the settings hashes of the host's current effective
  features (the pass planned with what is stored now), unless the host could not be observed
  at all, which is an answer whatever the spec.

Everything comes from rows the controller writes in one transaction per pass (facts, feature
status, conditions), so a result is never a mix of two passes.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, select

from axis.reconciler.fleet_pass import plan_work
from axis.reconciler.record import settings_hashes
from axis.state.conditions import conditions_of
from axis.state.facts import latest
from axis.state.objects import Change, desired_hosts
from axis.state.tables import FeatureStatus


@dataclass(frozen=True)
class HandedResult:
    host: str
    ready: bool
    reason: str  # the Ready condition's reason, or the observation's status when unreachable
    message: str


def changed_hosts(changes: list[Change], handed: list[str]) -> set[str]:
    """Hosts whose desired state this apply changed: a changed profile may change all of them."""
    touched = [c for c in changes if c.action != "unchanged"]
    if any(c.kind == "HostProfile" for c in touched):
        return set(handed)
    return {c.name for c in touched if c.kind == "Host"} & set(handed)


def handed_results(session: Session, handed: list[str], changed: set[str], since: float) -> dict[str, HandedResult]:
    """The hosts of `handed` the controller has answered for (see the module docstring); the
    others are absent: their pass is still to come."""
    hosts, profiles = desired_hosts(session)
    by_name = {h.metadata.name: h for h in hosts if h.metadata.name in handed}
    observed = latest(session, list(by_name))
    results = {}
    for name, host in by_name.items():
        obs = observed.get(name)
        if obs is None or (name in changed and obs.collected_at <= since):
            continue
        conditions = {c.type: c for c in conditions_of(session, "Host", name)}
        if obs.status not in ("complete", "partial"):
            results[name] = HandedResult(name, False, obs.status, obs.reason)
            continue
        expected = settings_hashes(plan_work(session, [host], profiles)[0].features)
        rows = session.exec(select(FeatureStatus).where(FeatureStatus.host == name)).all()
        converged = conditions.get("Converged")
        if converged is not None and converged.reason == "HostNotObserved":
            results[name] = HandedResult(name, False, converged.reason, converged.message)
        elif {r.feature: r.settings_hash for r in rows} == expected and "Ready" in conditions:
            ready = conditions["Ready"]
            results[name] = HandedResult(name, ready.status == "True", ready.reason, ready.message)
    return results
