"""Desired objects as every front end shows them (`axis get -o json|yaml`, `describe`, the API):
metadata, spec, and a status computed from the state DB (profiles and effective features, the
latest observation, feature states, conditions, a claim's placement).

The output of `axis get KIND -o yaml` is itself a valid spec file (`kind: List`), and applying
it back changes nothing: status and read-only metadata are ignored by the loader.
"""

from __future__ import annotations

import time

from typing import TYPE_CHECKING

from typing_extensions import TypedDict

from axis.app.claims import add_claim_status
from axis.app.documents import ConditionView, ObjectList, ObjectMetadata, ObjectStatus, ObjectView
from axis.app.observed import observed_view
from axis.app.timefmt import iso
from axis.specs import API_VERSION, Host, HostProfile, Kind, effective_features, matching_profiles
from axis.state.snapshot import ConditionRow, FeatureStatusRow, ObjectRow, Snapshot
from axis.state.stored_specs import StoredSpecInvalid, snapshot_hosts, to_model

if TYPE_CHECKING:
    from axis.state.tables import Condition


class _Labels(TypedDict, total=False):
    """`metadata.labels`, present only when the object has labels (and second, after `name`)."""

    labels: dict[str, str]


def object_view(row: ObjectRow, status: ObjectStatus | None = None) -> ObjectView:
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


def views_for(kind: Kind, rows: list[ObjectRow], hosts: list[Host], profiles: list[HostProfile]) -> list[ObjectView]:
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


def object_views(snap: Snapshot, kind: Kind, rows: list[ObjectRow]) -> list[ObjectView]:
    """Objects as `get -o json` shows them: spec plus status (observation, conditions, placement)."""
    # only hosts and profiles show effective features and matched hosts: claims need neither
    if kind in (Kind.HOST, Kind.HOST_PROFILE):
        hosts, profiles = snapshot_hosts(snap)
    else:
        hosts, profiles = [], []
    views = views_for(kind, rows, hosts, profiles)
    if kind == Kind.HOST:
        add_observed(snap, views)
    elif kind == Kind.CLAIM:
        add_claim_status(snap, views, rows, time.time())
    add_conditions(snap, kind, views)
    return views


def add_observed(snap: Snapshot, views: list[ObjectView]) -> None:
    """Put each host's latest observation (facts summary, status, age) under status.observed, its
    features' states under status.features, the git revision that last converged it, and the
    controller that holds it now."""
    now = time.time()
    names = [v["metadata"]["name"] for v in views]
    newest = snap.latest_facts(names)
    features: dict[str, list[FeatureStatusRow]] = {}
    for row in snap.feature_status(names):
        features.setdefault(row.host, []).append(row)
    revisions = snap.host_revisions()
    held = snap.holders(snap.lease_time())  # the clock the leases are on
    for view in views:
        name = view["metadata"]["name"]
        o = observed_view(snap, name, newest.get(name), now, spec_sudo=view["spec"].get("sudo") is True)
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


def add_conditions(snap: Snapshot, kind: Kind, views: list[ObjectView]) -> None:
    """status.conditions and status.observedGeneration, Kubernetes-style, where a pass set them."""
    by_name: dict[str, list[ConditionRow]] = {}
    for c in snap.conditions(kind):
        by_name.setdefault(c.name, []).append(c)
    for view in views:
        found = by_name.get(view["metadata"]["name"])
        if not found:
            continue
        status = view.setdefault("status", {})
        status["observedGeneration"] = max(c.observed_generation for c in found)
        status["conditions"] = [condition_view(c) for c in found]


def condition_view(c: ConditionRow | Condition) -> ConditionView:
    return {"type": c.type, "status": c.status, "reason": c.reason, "message": c.message,
            "lastTransitionTime": iso(c.last_transition), "lastProbeTime": iso(c.last_probe) if c.last_probe else None,
            "observedGeneration": c.observed_generation}
