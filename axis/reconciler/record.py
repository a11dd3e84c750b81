"""Writing a pass's outcomes to the state DB: facts, feature status and events, in one transaction.

Events are written on change, not on every pass: "Converged" when steps ran, "StepRefused" the
first time a host refuses a live step, "ConvergeFailed"/"Unreachable" with the reason. A
controller resyncing an in-sync fleet every minute therefore adds no events.
"""

from __future__ import annotations

from typing import Mapping

from sqlmodel import Session

from axis.reconciler.converge import HostOutcome
from axis.specs import spec_hash
from axis.specs.effective import EffectiveFeature
from axis.state.events import record_event
from axis.state.facts import store_observations
from axis.state.feature_status import FeatureRow, store_feature_status


def settings_hashes(features: Mapping[str, EffectiveFeature]) -> dict[str, str]:
    return {name: spec_hash({"settings": f.to_data()["settings"]}) for name, f in features.items()}


def record_outcome(session: Session, outcome: HostOutcome, features: Mapping[str, EffectiveFeature], *,
                   generation: int, previously_refused: Mapping[str, Mapping[str, str]], now: float) -> None:
    if outcome.observation is not None:
        store_observations(session, [outcome.observation])
    host = outcome.host
    if outcome.status == "failed" and not outcome.features:
        kind = "Unreachable" if outcome.observation and outcome.observation.status == "unreachable" else "ConvergeFailed"
        record_event(session, "Host", host, kind, outcome.reason, type="Warning", now=now)
        return
    hashes = settings_hashes(features)
    rows = []
    for f in outcome.features:
        refused = f.refused
        rows.append(FeatureRow(f.feature, f.state, _reason(f.state), f.message, hashes.get(f.feature, ""), refused))
        for key, message in refused.items():
            if key not in previously_refused.get(f.feature, {}):
                record_event(session, "Host", host, "StepRefused", f"{f.feature}: {key.split(' ', 1)[1]}: {message}",
                             type="Warning", now=now)
    store_feature_status(session, host, rows, generation=generation, now=now)
    if outcome.status == "changed":
        done = ", ".join(f"{f.feature} ({sum(1 for r in f.results if r.status == 'done')})"
                         for f in outcome.features if f.results)
        record_event(session, "Host", host, "Converged", f"{outcome.steps_run} step(s) run: {done}", now=now)
    elif outcome.status == "failed":
        record_event(session, "Host", host, "ConvergeFailed", outcome.reason, type="Warning", now=now)


def _reason(state: str) -> str:
    return {"in-sync": "InSync", "pending": "ChangesPending", "applied": "Applied", "refused": "RefusedByHost",
            "failed": "ApplyFailed", "not-applicable": "NotApplicable"}[state]
