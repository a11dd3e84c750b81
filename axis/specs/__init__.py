"""Spec models (Host, HostProfile, Claim), the YAML loader with file:line errors, and merging.

`load_specs` is imported on first use (PEP 562): the loader pulls in ruamel.yaml, which the
commands that only read the state DB (`axis get`, `describe`, `status --cached`) never need."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from axis.specs.effective import EffectiveFeature, effective_features, matching_profiles, spec_data, spec_hash
from axis.specs.errors import SpecError, SpecErrors
from axis.specs.models import API_VERSION, KINDS, MODELS, Claim, Host, HostProfile, Kind, Loaded, SpecObject

if TYPE_CHECKING:
    from axis.specs.loader import load_specs

__all__ = [
    "API_VERSION", "KINDS", "MODELS", "Claim", "EffectiveFeature", "Host", "HostProfile", "Kind",
    "Loaded", "SpecError", "SpecErrors", "SpecObject", "effective_features", "load_specs",
    "matching_profiles", "spec_data", "spec_hash",
]


def __getattr__(name: str) -> Any:
    if name == "load_specs":
        from axis.specs.loader import load_specs
        return load_specs
    raise AttributeError(f"module 'axis.specs' has no attribute {name!r}")
