"""Following a controller's passes for the hosts an `axis apply` handed to it.

An apply beside a running controller only stores (see `apply_pass.store`); for its exit code to
still say how the hosts ended up, it reads the conditions the controller records. A changed
host's result counts only once a pass that read the desired state after the apply's commit has
recorded them: every condition carries `last_probe`, the time its pass began reading the desired
state (taken before the read, so a probe time later than the commit means the read saw it).
Facts rows do not serve (`axis status` writes them too, and a pass stamps its facts when it
observes, after it planned). An unchanged host answers with its last pass.

Both times come from `time.time()` on this machine (controller and apply share the state DB),
so only a wall clock stepped backwards between the commit and the pass could mislead it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from axis.state.objects import Change, desired_hosts
from axis.state.tables import Condition


@dataclass(frozen=True)
class HandedResult:
    host: str
    ready: bool
    reason: str  # Ready, else why not: the Reachable or Converged reason (Unreachable, ApplyFailed, ...)
    message: str


def changed_hosts(changes: list[Change], handed: list[str]) -> set[str]:
    """Hosts whose desired state this apply changed: a changed profile may change all of them."""
    touched = [c for c in changes if c.action != "unchanged"]
    if any(c.kind == "HostProfile" for c in touched):
        return set(handed)
    return {c.name for c in touched if c.kind == "Host"} & set(handed)


def handed_results(session: Session, handed: list[str], changed: set[str], since: float) -> dict[str, HandedResult]:
    """The hosts of `handed` the controller has answered for since `since` (the apply's commit),
    or that are gone from the state DB; the others are absent: their pass is still to come."""
    desired = {h.metadata.name for h in desired_hosts(session)[0]}
    results = {}
    for name in handed:
        if name not in desired:
            results[name] = HandedResult(name, False, "Deleted", "deleted from the state DB while apply waited")
            continue
        conditions = {t: session.get(Condition, ("Host", name, t)) for t in ("Reachable", "Converged", "Ready")}
        ready = conditions["Ready"]
        if ready is None or (name in changed and ready.last_probe <= since):
            continue
        why = next((c.reason for c in (conditions["Reachable"], conditions["Converged"])
                    if c is not None and c.status != "True"), ready.reason)
        results[name] = HandedResult(name, ready.status == "True", why, ready.message)
    return results
