"""Objects as users see them in `get -o json|yaml` and `describe`: metadata, spec, status.

The output of `axis get KIND -o yaml` is itself a valid spec file (`kind: List`), and applying
it back changes nothing: status and read-only metadata are ignored by the loader.
"""

from __future__ import annotations

from typing import Any

from axis.cli.output import iso
from axis.specs import API_VERSION, Host, HostProfile, effective_features, matching_profiles
from axis.state.objects import StoredSpecInvalid, to_model
from axis.state.tables import DesiredObject, Event

KIND_ALIASES = {
    "host": "Host", "hosts": "Host",
    "profile": "HostProfile", "profiles": "HostProfile", "hostprofile": "HostProfile",
    "hostprofiles": "HostProfile",
    "claim": "Claim", "claims": "Claim",
    "event": "Event", "events": "Event",
}


def resolve_kind(word: str) -> str:
    kind = KIND_ALIASES.get(word.lower())
    if kind is None:
        raise ValueError(f"unknown resource type {word!r} (use hosts, profiles, claims or events)")
    return kind


def object_view(row: DesiredObject, status: dict[str, Any] | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": row.name}
    if row.labels:
        metadata["labels"] = dict(sorted(row.labels.items()))
    metadata.update(generation=row.generation, creationTimestamp=iso(row.created_at),
                    source=f"{row.source_path}:{row.source_line}")
    view: dict[str, Any] = {"apiVersion": API_VERSION, "kind": row.kind, "metadata": metadata, "spec": row.spec}
    if status:
        view["status"] = status
    return view


def host_status(host: Host, profiles: list[HostProfile]) -> dict[str, Any]:
    return {
        "profiles": [p.metadata.name for p in matching_profiles(host, profiles)],
        "effectiveFeatures": {n: f.to_data() for n, f in effective_features(host, profiles).items()},
    }


def profile_status(profile: HostProfile, hosts: list[Host]) -> dict[str, Any]:
    return {"matchedHosts": sorted(h.metadata.name for h in hosts if profile.spec.selector.matches(h.metadata.labels))}


def views_for(kind: str, rows: list[DesiredObject], hosts: list[Host], profiles: list[HostProfile]) -> list[dict[str, Any]]:
    """Full objects with their computed status, in name order."""
    out = []
    for row in rows:
        status: dict[str, Any] | None = None
        try:
            if kind == "Host":
                status = host_status(to_model(row), profiles)  # type: ignore[arg-type]
            elif kind == "HostProfile":
                status = profile_status(to_model(row), hosts)  # type: ignore[arg-type]
        except StoredSpecInvalid as exc:  # shown on its own row; the other objects are listed as usual
            status = {"invalid": str(exc), **({"profiles": [], "effectiveFeatures": {}} if kind == "Host" else {}),
                      **({"matchedHosts": []} if kind == "HostProfile" else {})}
        out.append(object_view(row, status))
    return out


def list_view(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": API_VERSION, "kind": "List", "items": items}


def event_view(event: Event) -> dict[str, Any]:
    return {"time": iso(event.time), "type": event.type, "object": f"{event.kind}/{event.name}",
            "reason": event.reason, "message": event.message}
