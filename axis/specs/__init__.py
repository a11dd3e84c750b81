"""Spec models (Host, HostProfile, Claim), the YAML loader with file:line errors, and merging."""

from axis.specs.effective import EffectiveFeature, effective_features, matching_profiles, spec_data, spec_hash
from axis.specs.errors import SpecError, SpecErrors
from axis.specs.loader import Loaded, load_specs
from axis.specs.models import API_VERSION, KINDS, MODELS, Claim, Host, HostProfile, Kind, SpecObject

__all__ = [
    "API_VERSION", "KINDS", "MODELS", "Claim", "EffectiveFeature", "Host", "HostProfile", "Kind",
    "Loaded", "SpecError", "SpecErrors", "SpecObject", "effective_features", "load_specs",
    "matching_profiles", "spec_data", "spec_hash",
]
