"""Desired objects as every front end shows them (`axis get -o json|yaml`, `describe`, the API):
metadata, spec, and a status computed from the state DB (profiles and effective features, the
latest observation, feature states, conditions, a claim's placement).

The output of `axis get KIND -o yaml` is itself a valid spec file (`kind: List`), and applying
it back changes nothing: status and read-only metadata are ignored by the loader.
"""

from __future__ import annotations

import time

from sqlmodel import Session
from typing_extensions import TypedDict

from axis.app.claims import add_claim_status
from axis.app.documents import ConditionView, ObjectList, ObjectMetadata, ObjectStatus, ObjectView
from axis.app.observed import observed_view
from axis.app.timefmt import iso
from axis.specs import API_VERSION, Host, HostProfile, Kind, effective_features, matching_profiles
from axis.state.conditions import conditions_of
from axis.state.controllers import lease_time
from axis.state.facts import latest
from axis.state.feature_status import feature_status
from axis.state.objects import StoredSpecInvalid, desired_hosts, to_model
from axis.state.ownership import holders
from axis.state.sources import host_revisions
from axis.state.tables import Condition, DesiredObject, FeatureStatus


class _Labels(TypedDict, total=False):
    """`metadata.labels`, present only when the object has labels (and second, after `name`)."""

    labels: dict[str, str]


def object_view(row: DesiredObject, status: ObjectStatus | None = None) -> ObjectView:
    labels: _Labels = {"labels": dict(sorted(row.labels.items()))} if row.labels else {}
    metadata: ObjectMetadata = {"name": row.name, **labels, "generation": row.generation,
                                "creationTimestamp": iso(row.created_at), "source": f"{row.source_path}:{row.source_line}"}
    view: ObjectView = {"apiVersion": API_VERSION, "kind": row.kind, "metadata": metadata, "spec": row.spec}
    if status:
        view["status"] = status
    return view


def host_status(host: Host, profiles: list[HostProfile]) -> ObjectStatus:
    return {
        "profiles": [p.metadata.name for p in matching_profiles(host, profiles)],
        "effectiveFeatures": {n: f.to_data() for n, f in effective_features(host, profiles).items()},
    }


def profile_status(profile: HostProfile, hosts: list[Host]) -> ObjectStatus:
    return {"matchedHosts": sorted(h.metadata.name for h in hosts if profile.spec.selector.matches(h.metadata.labels))}


def views_for(kind: Kind, rows: list[DesiredObject], hosts: list[Host], profiles: list[HostProfile]) -> list[ObjectView]:
    """Full objects with their computed status, in name order."""
    out = []
    for row in rows:
        status: ObjectStatus | None = None
        try:
            if kind == Kind.HOST:
                status = host_status(to_model(row, Host), profiles)
            elif kind == Kind.HOST_PROFILE:
                status = profile_status(to_model(row, HostProfile), hosts)
        except StoredSpecInvalid as exc:  # shown on its own row; the other objects are listed as usual
            status = {"invalid": str(exc)}
            if kind == Kind.HOST:
                status.update({"profiles": [], "effectiveFeatures": {}})
            elif kind == Kind.HOST_PROFILE:
                status["matchedHosts"] = []
        out.append(object_view(row, status))
    return out


def list_view(items: list[ObjectView]) -> ObjectList:
    return {"apiVersion": API_VERSION, "kind": "List", "items": items}


def object_views(session: Session, kind: Kind, rows: list[DesiredObject]) -> list[ObjectView]:
    """Objects as `get -o json` shows them: spec plus status (observation, conditions, placement)."""
    # only hosts and profiles show effective features and matched hosts: claims need neither
    hosts, profiles = desired_hosts(session) if kind in (Kind.HOST, Kind.HOST_PROFILE) else ([], [])
    views = views_for(kind, rows, hosts, profiles)
    if kind == Kind.HOST:
        add_observed(session, views)
    elif kind == Kind.CLAIM:
        add_claim_status(session, views, rows, time.time())
    add_conditions(session, kind, views)
    return views


def add_observed(session: Session, views: list[ObjectView]) -> None:
    """Put each host's latest observation (facts summary, status, age) under status.observed, its
    features' states under status.features, the git revision that last converged it, and the
    controller that holds it now."""
    now = time.time()
    names = [v["metadata"]["name"] for v in views]
    newest = latest(session, names)
    features: dict[str, list[FeatureStatus]] = {}
    for row in feature_status(session, names):
        features.setdefault(row.host, []).append(row)
    revisions = host_revisions(session)
    held = holders(session, lease_time(session))  # the clock the leases are on
    for view in views:
        name = view["metadata"]["name"]
        o = observed_view(session, name, newest.get(name), now, spec_sudo=view["spec"].get("sudo") is True)
        view["status"]["observed"] = {"status": o["status"], "reason": o["reason"], "observedAt": o["observedAt"],
                                      "age": o["age"], "factsAt": o["factsAt"], "summary": o["summary"]}
        view["status"]["features"] = [
            {"feature": f.feature, "state": f.state, "reason": f.reason, "message": f.message,
             "observedGeneration": f.observed_generation, "updated": iso(f.updated_at)}
            for f in features.get(name, [])]
        if name in revisions:  # converged by a git source's revision (`axis controller --git`)
            revision = revisions[name]
            view["status"].update({"revision": revision.revision, "revisionSource": revision.source,
                                   "revisionConvergedAt": iso(revision.converged_at)})
        if name in held:  # the controller that may reconcile it now (`axis get controllers`)
            owner = held[name]
            view["status"]["controller"] = {"name": owner.holder, "token": owner.token, "expires": iso(owner.expires)}


def add_conditions(session: Session, kind: Kind, views: list[ObjectView]) -> None:
    """status.conditions and status.observedGeneration, Kubernetes-style, where a pass set them."""
    by_name: dict[str, list[Condition]] = {}
    for c in conditions_of(session, kind):
        by_name.setdefault(c.name, []).append(c)
    for view in views:
        found = by_name.get(view["metadata"]["name"])
        if not found:
            continue
        status = view.setdefault("status", {})
        status["observedGeneration"] = max(c.observed_generation for c in found)
        status["conditions"] = [condition_view(c) for c in found]


def condition_view(c: Condition) -> ConditionView:
    return {"type": c.type, "status": c.status, "reason": c.reason, "message": c.message,
            "lastTransitionTime": iso(c.last_transition), "lastProbeTime": iso(c.last_probe) if c.last_probe else None,
            "observedGeneration": c.observed_generation}
