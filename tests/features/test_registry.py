"""The two sides of a feature, its settings (specs) and its driver, are joined by type, one to one.

A feature is declared by its settings class in `axis.specs.features.FEATURES` and by its driver
in `axis.drivers.features.DRIVERS`; a side that is missing, doubled or misnamed fails here.
"""

from __future__ import annotations

from typing import get_args

from axis.drivers.features import DRIVERS, FeatureDriver
from axis.specs.features import FEATURE_SETTINGS, FEATURES, Features, FeatureSettings


def test_every_settings_class_has_exactly_one_driver_and_every_driver_a_listed_settings_class():
    by_settings = [driver.settings_type for driver in DRIVERS.values()]
    assert len(set(by_settings)) == len(by_settings) == len(DRIVERS)  # no settings class twice
    assert set(by_settings) == set(FEATURES) and len(FEATURES) == len(set(FEATURES))


def test_every_settings_class_declared_is_listed_in_features():
    """A settings class written but left out of FEATURES would be no feature at all."""
    assert set(_subclasses(FeatureSettings)) == set(FEATURES)


def test_a_driver_is_registered_under_its_settings_feature_name():
    assert all(isinstance(driver, FeatureDriver) for driver in DRIVERS.values())
    assert {name: driver.settings_type for name, driver in DRIVERS.items()} == FEATURE_SETTINGS


def test_the_features_model_has_one_field_per_settings_class_under_its_spec_key():
    fields = Features.model_fields
    assert [field.alias or attr for attr, field in fields.items()] == [s.feature for s in FEATURES]
    for (attr, field), settings in zip(fields.items(), FEATURES, strict=True):
        assert issubclass(settings, FeatureSettings)
        assert settings in _types(field.annotation), attr
    listed = Features.model_validate({s.feature: {} for s in FEATURES}).listed()
    assert {name: type(value) for name, value in listed.items()} == FEATURE_SETTINGS


def _types(annotation: object) -> set[object]:
    """Every class nested in a `Toggle[X] | None` annotation."""
    found: set[object] = {annotation}
    for arg in get_args(annotation):
        found |= _types(arg)
    return found


def _subclasses(cls: type) -> list[type]:
    return [sub for direct in cls.__subclasses__() for sub in (direct, *_subclasses(direct))]
