"""Spec models (Host, HostProfile, Claim), the YAML loader with file:line errors, and merging.

Every name here is imported on first use (PEP 562): the models build pydantic schemas and the
loader pulls in ruamel.yaml, and `axis --help`, `--version` or a command's error handling need
neither; `axis.specs.errors`, `.text` and `.names` are importable without pydantic."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from axis.specs.effective import EffectiveFeature, effective_features, matching_profiles, spec_data, spec_hash
    from axis.specs.errors import SpecError, SpecErrors
    from axis.specs.loader import load_specs
    from axis.specs.models import API_VERSION, KINDS, MODELS, Claim, Host, HostProfile, Kind, Loaded, SpecObject

#: name → the submodule that defines it
_HOME = {
    **dict.fromkeys(["EffectiveFeature", "effective_features", "matching_profiles", "spec_data", "spec_hash"],
                    "effective"),
    **dict.fromkeys(["SpecError", "SpecErrors"], "errors"),
    "load_specs": "loader",
    **dict.fromkeys(["API_VERSION", "KINDS", "MODELS", "Claim", "Host", "HostProfile", "Kind", "Loaded",
                     "SpecObject"], "models"),
}

__all__ = [
    "API_VERSION", "KINDS", "MODELS", "Claim", "EffectiveFeature", "Host", "HostProfile", "Kind",
    "Loaded", "SpecError", "SpecErrors", "SpecObject", "effective_features", "load_specs",
    "matching_profiles", "spec_data", "spec_hash",
]


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'axis.specs' has no attribute {name!r}")
    return getattr(importlib.import_module(f"axis.specs.{home}"), name)
