"""Writing a pass's outcomes to the state DB: facts, feature status and events, in one transaction;
and the placement pass that binds claims and records their conditions.

Events are written on change, not on every pass: "Converged" when steps ran, "StepRefused" the
first time a host refuses a live step, "ConvergeFailed"/"Unreachable" with the reason. A
controller resyncing an in-sync fleet every minute therefore adds no events.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from sqlmodel import Session

from axis.placement.ledger import Outcome, place_claims
from axis.reconcile.converge import HostOutcome
from axis.state.object_kinds import CONTROLLER_KIND, CONTROLLER_NAME
from axis.specs import Kind, spec_hash
from axis.specs.effective import EffectiveFeature
from axis.state import Database
from axis.state.claims import statuses
from axis.state.conditions import put_conditions, set_condition
from axis.state.events import record_event
from axis.state.facts import store_observations
from axis.state.feature_status import FeatureRow, store_feature_status
from axis.state.objects import get_row, list_rows
from axis.state.sources import planned_revision, record_source_pass

logger = logging.getLogger(__name__)


def settings_hashes(features: Mapping[str, EffectiveFeature]) -> dict[str, str]:
    return {name: spec_hash({"settings": f.to_data()["settings"]}) for name, f in features.items()}


def record_outcome(session: Session, outcome: HostOutcome, features: Mapping[str, EffectiveFeature], *,
                   generation: int, previously_refused: Mapping[str, Mapping[str, str]], now: float,
                   probed: float) -> None:
    """`probed`: when the pass read the desired state it converged to (see HostWork.planned_at)."""
    if outcome.observation is not None:
        store_observations(session, [outcome.observation])
    host = outcome.host
    _host_conditions(session, outcome, generation, now, probed)
    if outcome.status == "failed" and not outcome.features:
        kind = "Unreachable" if outcome.observation and outcome.observation.status == "unreachable" else "ConvergeFailed"
        record_event(session, Kind.HOST, host, kind, outcome.reason, type="Warning", now=now)
        return
    hashes = settings_hashes(features)
    rows = []
    for f in outcome.features:
        refused = f.refused
        reason = "ProbeFailed" if f.plan.error else _reason(f.state)  # the host could not be read
        rows.append(FeatureRow(f.feature, f.state, reason, f.message, hashes.get(f.feature, ""), refused))
        for key, message in refused.items():
            if key not in previously_refused.get(f.feature, {}):
                record_event(session, Kind.HOST, host, "StepRefused", f"{f.feature}: {key.split(' ', 1)[1]}: {message}",
                             type="Warning", now=now)
    store_feature_status(session, host, rows, generation=generation, now=now)
    if outcome.status == "changed":
        done = ", ".join(f"{f.feature} ({sum(1 for r in f.results if r.status == 'done')})"
                         for f in outcome.features if f.results)
        record_event(session, Kind.HOST, host, "Converged", f"{outcome.steps_run} step(s) run: {done}", now=now)
    elif outcome.status == "failed":
        record_event(session, Kind.HOST, host, "ConvergeFailed", outcome.reason, type="Warning", now=now)


def _reason(state: str) -> str:
    return {"in-sync": "InSync", "pending": "ChangesPending", "applied": "Applied", "refused": "RefusedByHost",
            "failed": "ApplyFailed", "not-applicable": "NotApplicable"}[state]


def _host_conditions(session: Session, outcome: HostOutcome, generation: int, now: float, probed: float) -> None:
    """Reachable, Converged and Ready, from this pass alone (level-triggered, rebuildable): one
    upsert of the three (`put_conditions`)."""
    obs = outcome.observation
    reachable = obs is not None and obs.status in ("complete", "partial")
    if obs is not None and reachable:
        r_reason, r_msg = ("FactsComplete", "") if obs.status == "complete" else ("FactsPartial", obs.reason)
    else:
        r_reason = "Unreachable" if obs is not None and obs.status == "unreachable" else "Error"
        r_msg = outcome.reason
    failed = [f for f in outcome.features if f.state == "failed"]
    refused = [f.feature for f in outcome.features if f.state == "refused"]
    converged: bool | None
    if not reachable or (outcome.status == "failed" and not outcome.features):
        converged, c_reason, c_msg = None, "HostNotObserved", outcome.reason
    elif failed:
        converged, c_reason, c_msg = False, "ProbeFailed" if all(f.plan.error for f in failed) else "ApplyFailed", \
            outcome.reason
    elif refused:
        converged, c_reason, c_msg = True, "InSyncWithRefusals", "host refused live steps of: " + ", ".join(refused)
    else:
        converged, c_reason, c_msg = True, "InSync", ""
    ready = reachable and converged is True
    put_conditions(session, Kind.HOST, outcome.host, [
        ("Reachable", reachable, r_reason, r_msg),
        ("Converged", converged, c_reason, c_msg),
        ("Ready", ready, "Ready" if ready else "NotReady", "" if ready else (c_msg or r_msg)),
    ], generation=generation, now=now, probed=probed)


def bind_claims(db: Database, now: float, *, log: bool = False) -> list[Outcome]:
    """One placement pass (`axis apply` after its hosts, the controller every CLAIMS_EVERY): bind
    what fits, then set every claim's Bound condition from the result; what each claim became.
    `log`: a line for each claim bound (the controller's log)."""
    placed = place_claims(db, now=now)
    with db.write() as session:
        record_claim_conditions(session, now)
    for outcome in placed if log else ():
        if outcome.phase == "Bound":
            logger.info("claim/%s bound to %s", outcome.claim, outcome.host,
                        extra={"claim": outcome.claim, "host": outcome.host, "phase": outcome.phase})
    return placed


def record_claim_conditions(session: Session, now: float) -> None:
    """Bound for every claim, from the ledger's placement status."""
    known = statuses(session)
    for row in list_rows(session, Kind.CLAIM):
        status = known.get(row.name)
        phase = status.phase if status else "Pending"
        set_condition(session, Kind.CLAIM, row.name, "Bound", phase == "Bound", phase,
                      (status.host if status and phase == "Bound" else (status.reason if status else "not placed yet")),
                      generation=row.generation, now=now)


def record_pass_crashed(session: Session, name: str, message: str, now: float, started: float) -> None:
    """A host pass that raised leaves the host Ready False (`ControllerError`), stamped with the
    pass's start: `axis get hosts` shows it, and an apply waiting on the pass gets its answer;
    a git source's host counts as failed for the revision in force."""
    row = get_row(session, Kind.HOST, name)
    if row is None:
        return
    for type, status in (("Converged", None), ("Ready", False)):
        set_condition(session, Kind.HOST, name, type, status, "ControllerError", f"the controller's pass: {message}",
                      generation=row.generation, now=now, probed=started)
    if (planned := planned_revision(session, row.apply_set)) is not None:  # a failed pass of the revision in force
        record_source_pass(session, name, *planned, changed=False, failed=True, now=now)


def record_spec_invalid(session: Session, errors: list[str]) -> None:
    """The controller's watched specs do not load: a Warning event with the first error."""
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    record_event(session, CONTROLLER_KIND, CONTROLLER_NAME, "SpecInvalid", f"{errors[0]}{more}", type="Warning")
