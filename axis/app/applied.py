"""Converge outcomes as documents: what `axis apply -o json` prints and `POST /apply` answers
(each host's features, their planned steps, refusals and results). `axis diff` prints the plan
document instead (`axis.app.plan_document`), versioned for CI tools."""

from __future__ import annotations

from axis.app.documents import AppliedDocument, FeatureOutcomeView, Outcomes, StepView
from axis.drivers.features import Step
from axis.reconcile.apply_pass import Applied
from axis.reconcile.converge import FeatureOutcome, HostOutcome


def _step(step: Step) -> StepView:
    out: StepView = {"op": step.op, "summary": step.summary, "target": step.target, "live": step.live}
    if step.detail:
        out["diff"] = step.detail
    return out


def _feature(f: FeatureOutcome) -> FeatureOutcomeView:
    out: FeatureOutcomeView = {"feature": f.feature, "state": f.state, "message": f.message,
                           "steps": [_step(s) for s in f.plan.steps]}
    if f.plan.error:
        out["error"] = f.plan.error
    if f.plan.skipped:
        out["refused"] = [{**_step(s), "hostMessage": why} for s, why in f.plan.skipped]
    if f.results:
        out["results"] = [{"summary": r.step.summary, "status": r.status, "message": r.message} for r in f.results]
    return out


def outcomes_data(outcomes: list[HostOutcome]) -> Outcomes:
    return {
        "changesPending": any(o.status == "pending" for o in outcomes),
        "failed": sum(1 for o in outcomes if o.status == "failed"),
        "hosts": [{"name": o.host, "status": o.status, "reason": o.reason or None, "seconds": round(o.seconds, 3),
                   "features": [_feature(f) for f in o.features]} for o in outcomes],
    }


def applied_data(applied: Applied) -> AppliedDocument:
    """The document `axis apply -o json` prints and `POST /apply` answers."""
    stored = applied.stored
    return {"dryRun": stored.dry_run, "storeOnly": stored.store_only,  # storeOnly: no host contacted, no claim bound
            "changes": [{"kind": c.kind, "name": c.name, "action": c.action, "generation": c.generation,
                         "source": c.source} for c in stored.changes],
            "warnings": stored.warnings, "controller": stored.controller, **outcomes_data(applied.outcomes),
            "claims": [{"claim": p.claim, "phase": p.phase, "host": p.host or None, "reason": p.reason or None}
                       for p in applied.placed if p.phase]}
