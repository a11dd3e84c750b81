"""Settings of the bootstrap features a Host (or HostProfile) can ask for.

Each feature is either a settings mapping (`earlyoom: {}` turns it on with defaults), `true`
(the same as `{}`), or `false` (remove what axis installed). A feature that is not listed is not
managed at all: axis neither adds nor removes anything for it.

A feature's settings class is its one declaration on this side: it names the feature
(`feature`, the spec key) and is listed once in `FEATURES`, from which `FEATURE_SETTINGS` and the
`Features` model are built. Its driver (`axis.drivers.features`) names the settings class as its
`settings_type`; tests/features/test_registry.py proves that the two lists match one to one.
The settings stay here, not in the driver modules, because specs is the bottom layer: the state
layer reads these models and must not import the drivers.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, TypeAlias, TypeVar

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, create_model, field_validator

from axis.specs.names import check_host_word
from axis.specs.units import Size


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class FeatureSettings(_Settings):
    """The settings of one feature. `feature`: its key in a spec's `features` mapping."""

    feature: ClassVar[str]


class SwapfileSettings(FeatureSettings):
    feature: ClassVar[str] = "swapfile"
    size: Size = Field(default=32 * 2**30, description="swap wanted in total; skipped when current swap is already at least this")
    swappiness: int = Field(default=10, ge=0, le=200, description="vm.swappiness written to a sysctl.d file")
    path: str = Field(default="/swapfile", description="absolute path of the swap file")

    @field_validator("path")
    @classmethod
    def _absolute(cls, value: str) -> str:
        """The path is a field of an /etc/fstab line and an argument of swapon/mkswap."""
        rule = "an absolute path without spaces, control characters or '..'"
        if not value.startswith("/") or ".." in value.split("/"):
            raise ValueError(f"must be {rule}")
        return check_host_word(value, rule)


class EarlyoomSettings(FeatureSettings):
    feature: ClassVar[str] = "earlyoom"


class PersistentJournalSettings(FeatureSettings):
    feature: ClassVar[str] = "persistentJournal"


class PanicRecoverySettings(FeatureSettings):
    feature: ClassVar[str] = "panicRecovery"
    panic_seconds: int = Field(default=10, ge=1, le=3600, alias="panicSeconds",
                               description="kernel.panic: reboot this many seconds after a panic")


class WatchdogSettings(FeatureSettings):
    feature: ClassVar[str] = "watchdog"
    timeout_seconds: int = Field(default=30, ge=1, le=600, alias="timeoutSeconds",
                                 description="systemd RuntimeWatchdogSec")


class DiskCleanupSettings(FeatureSettings):
    feature: ClassVar[str] = "diskCleanup"
    retention_days: int = Field(default=3, ge=1, le=365, alias="retentionDays",
                                description="files older than this (mtime) are removed")
    deep_at_percent: int = Field(default=85, ge=1, le=100, alias="deepAtPercent",
                                 description="the deep tier runs when the root disk is at least this full")


class NoSleepSettings(FeatureSettings):
    feature: ClassVar[str] = "noSleep"


class TailscaleSettings(FeatureSettings):
    feature: ClassVar[str] = "tailscale"


#: Every feature, in the order a schema and `Features` list them: the one list to add one to.
FEATURES: tuple[type[FeatureSettings], ...] = (
    SwapfileSettings,
    EarlyoomSettings,
    PersistentJournalSettings,
    PanicRecoverySettings,
    WatchdogSettings,
    DiskCleanupSettings,
    NoSleepSettings,
    TailscaleSettings,
)

FEATURE_SETTINGS: dict[str, type[FeatureSettings]] = {settings.feature: settings for settings in FEATURES}


ON_TAG, OFF_TAG = "<settings>", "<false>"


def _which(value: Any) -> str:
    return OFF_TAG if value is False else ON_TAG


_S = TypeVar("_S", bound=_Settings)

# A feature value: its settings, or `false`. The discriminator keeps pydantic from reporting the
# errors of both branches when only the settings are wrong. `Toggle[SwapfileSettings]` is the
# annotation of the `swapfile` field that `_features_model` makes.
Toggle = Annotated[Annotated[_S, Tag(ON_TAG)] | Annotated[Literal[False], Tag(OFF_TAG)],
                   Discriminator(_which)]


_FEATURES_DOC = "Which features to manage; `false` removes, a mapping (or `true`) installs."


class FeatureSelection(_Settings):
    """What every `Features` model shares; its fields (one per feature, `Toggle[ItsSettings] |
    None`) are added from `FEATURES` by `_features_model`."""

    @field_validator("*", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        """`true` is shorthand for `{}`; anything but a mapping or a boolean is refused plainly."""
        if value is True:
            return {}
        if value is None or value is False or isinstance(value, dict):
            return value
        raise ValueError("expected a mapping of settings, true or false")

    def listed(self) -> dict[str, FeatureSettings | Literal[False]]:
        """The features this object mentions, keyed by their spec name (`persistentJournal`)."""
        out: dict[str, FeatureSettings | Literal[False]] = {}
        for attr, field in type(self).model_fields.items():
            value = getattr(self, attr)
            if value is not None:
                out[field.alias or attr] = value
        return out


def _python_name(feature: str) -> str:
    """`persistentJournal` → `persistent_journal`: the attribute a spec key is stored under."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", feature).lower()


def _features_model() -> type[FeatureSelection]:
    """The `Features` model: one optional field per entry of `FEATURES`, aliased to its spec key."""
    fields: dict[str, Any] = {}
    for settings in FEATURES:
        attr = _python_name(settings.feature)
        alias = settings.feature if attr != settings.feature else None
        # a field type built at run time from the registry: mypy checks types it can read in the source only
        fields[attr] = (Toggle[settings] | None, Field(default=None, alias=alias))  # type: ignore[misc,valid-type]
    return create_model("Features", __base__=FeatureSelection, __module__=__name__,
                        __doc__=_FEATURES_DOC, **fields)


if TYPE_CHECKING:
    # The fields are made at import time from `FEATURES`, which a type checker cannot follow:
    # it sees the base class, whose `listed()` is how the code reads a selection.
    Features: TypeAlias = FeatureSelection
else:
    Features = _features_model()
