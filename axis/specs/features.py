"""Settings of the bootstrap features a Host (or HostProfile) can ask for.

Each feature is either a settings mapping (`earlyoom: {}` turns it on with defaults), `true`
(the same as `{}`), or `false` (remove what axis installed). A feature that is not listed is not
managed at all: axis neither adds nor removes anything for it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator

from axis.specs.names import check_host_word
from axis.specs.units import Size


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class SwapfileSettings(_Settings):
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


class EarlyoomSettings(_Settings):
    pass


class PersistentJournalSettings(_Settings):
    pass


class PanicRecoverySettings(_Settings):
    panic_seconds: int = Field(default=10, ge=1, le=3600, alias="panicSeconds",
                               description="kernel.panic: reboot this many seconds after a panic")


class WatchdogSettings(_Settings):
    timeout_seconds: int = Field(default=30, ge=1, le=600, alias="timeoutSeconds",
                                 description="systemd RuntimeWatchdogSec")


class DiskCleanupSettings(_Settings):
    retention_days: int = Field(default=3, ge=1, le=365, alias="retentionDays",
                                description="files older than this (mtime) are removed")
    deep_at_percent: int = Field(default=85, ge=1, le=100, alias="deepAtPercent",
                                 description="the deep tier runs when the root disk is at least this full")


class NoSleepSettings(_Settings):
    pass


class TailscaleSettings(_Settings):
    pass


FEATURE_SETTINGS: dict[str, type[_Settings]] = {
    "swapfile": SwapfileSettings,
    "earlyoom": EarlyoomSettings,
    "persistentJournal": PersistentJournalSettings,
    "panicRecovery": PanicRecoverySettings,
    "watchdog": WatchdogSettings,
    "diskCleanup": DiskCleanupSettings,
    "noSleep": NoSleepSettings,
    "tailscale": TailscaleSettings,
}


ON_TAG, OFF_TAG = "<settings>", "<false>"


def _which(value: Any) -> str:
    return OFF_TAG if value is False else ON_TAG


_S = TypeVar("_S", bound=_Settings)

# A feature value: its settings, or `false`. The discriminator keeps pydantic from reporting the
# errors of both branches when only the settings are wrong. A generic alias rather than a
# function, so that `Toggle[SwapfileSettings]` is a type the type checker can read too.
Toggle = Annotated[Annotated[_S, Tag(ON_TAG)] | Annotated[Literal[False], Tag(OFF_TAG)],
                   Discriminator(_which)]


class Features(_Settings):
    """Which features to manage; `false` removes, a mapping (or `true`) installs."""

    swapfile: Toggle[SwapfileSettings] | None = None
    earlyoom: Toggle[EarlyoomSettings] | None = None
    persistent_journal: Toggle[PersistentJournalSettings] | None = Field(default=None, alias="persistentJournal")
    panic_recovery: Toggle[PanicRecoverySettings] | None = Field(default=None, alias="panicRecovery")
    watchdog: Toggle[WatchdogSettings] | None = None
    disk_cleanup: Toggle[DiskCleanupSettings] | None = Field(default=None, alias="diskCleanup")
    no_sleep: Toggle[NoSleepSettings] | None = Field(default=None, alias="noSleep")
    tailscale: Toggle[TailscaleSettings] | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        """`true` is shorthand for `{}`; anything but a mapping or a boolean is refused plainly."""
        if value is True:
            return {}
        if value is None or value is False or isinstance(value, dict):
            return value
        raise ValueError("expected a mapping of settings, true or false")

    def listed(self) -> dict[str, _Settings | Literal[False]]:
        """The features this object mentions, keyed by their spec name (`persistentJournal`)."""
        out: dict[str, _Settings | Literal[False]] = {}
        for attr, field in type(self).model_fields.items():
            value = getattr(self, attr)
            if value is not None:
                out[field.alias or attr] = value
        return out
