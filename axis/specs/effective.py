"""The effective desired state of a host: its own features over those of matching profiles.

Profiles apply in name order (a later name overrides an earlier one on the same feature) and the
host's own `features` override every profile, so the result is one deterministic value that
does not depend on file order.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from axis.specs.models import Host, HostProfile, Kind, SpecObject


@dataclass(frozen=True)
class EffectiveFeature:
    name: str
    settings: BaseModel | Literal[False]
    origin: str  # "Host" or "HostProfile/<name>"

    @property
    def enabled(self) -> bool:
        return self.settings is not False

    def to_data(self) -> dict[str, Any]:
        """Settings with every default filled in, as drivers will see them."""
        settings: Any = False if self.settings is False else self.settings.model_dump(mode="json", by_alias=True)
        return {"settings": settings, "from": self.origin}


def matching_profiles(host: Host, profiles: Iterable[HostProfile]) -> list[HostProfile]:
    return sorted((p for p in profiles if p.spec.selector.matches(host.metadata.labels)),
                  key=lambda p: p.metadata.name)


def effective_features(host: Host, profiles: Iterable[HostProfile]) -> dict[str, EffectiveFeature]:
    """Merge profile features into the host's, host winning, keyed by feature spec name."""
    merged: dict[str, EffectiveFeature] = {}
    for profile in matching_profiles(host, profiles):
        origin = f"{Kind.HOST_PROFILE}/{profile.metadata.name}"
        for name, settings in profile.spec.features.listed().items():
            merged[name] = EffectiveFeature(name, settings, origin)
    for name, settings in host.spec.features.listed().items():
        merged[name] = EffectiveFeature(name, settings, Kind.HOST)
    return dict(sorted(merged.items()))


def spec_data(obj: SpecObject) -> dict[str, Any]:
    """The spec as the user wrote it, in canonical form (`32G` → `32Gi`), for storage and output."""
    return obj.spec.model_dump(mode="json", by_alias=True, exclude_unset=True)


def spec_hash(data: dict[str, Any]) -> str:
    """A stable hash of a canonical spec: equal specs hash equal whatever their key order."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
