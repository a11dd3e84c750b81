"""Bootstrap feature drivers, one module each, joined to their settings in `DRIVERS`.

See `base.py` for the contract (probes → observe → plan → steps) that every driver follows,
`probes.py` for reading what a probe printed, and `packages.py` for drivers that install a
package.

Adding a feature:

1. Its settings class in `axis/specs/features.py`: a `FeatureSettings` subclass whose
   `feature` class variable is the spec key (`noSleep`), listed once in `FEATURES`. The
   `Features` model, `FEATURE_SETTINGS` and the JSON schema (`axis schema`) follow from it.
2. Its driver module here: `class NoSleep(FeatureDriver[NoSleepSettings, State])` with
   `settings_type = NoSleepSettings`, `oses`, and `probes`, `observe`, `plan` (pure; `plan`
   returns `Planned(steps, notes)`); then one line in `DRIVERS` below. mypy checks each method
   against the settings type; tests/features/test_registry.py fails unless every settings
   class has exactly one driver and every driver's settings class is in `FEATURES`.
3. Its test in tests/features/ (tests/features/hostsim.py converges a driver against a
   simulated host), with a probe fixture where a tool's answer is parsed, and its cases in
   tests/features/test_unreadable_probes.py (every probe failing must make it `Unreadable`).
4. A row in the README's feature table.
"""

from __future__ import annotations

from typing import Any

from axis.drivers.features.base import Command, FeatureDriver, Plan, Planned, RemoveFile, Step, WriteFile
from axis.drivers.features.disk_cleanup import DiskCleanup
from axis.drivers.features.earlyoom import Earlyoom
from axis.drivers.features.no_sleep import NoSleep
from axis.drivers.features.panic_recovery import PanicRecovery
from axis.drivers.features.persistent_journal import PersistentJournal
from axis.drivers.features.swapfile import Swapfile
from axis.drivers.features.tailscale import Tailscale
from axis.drivers.features.watchdog import Watchdog

#: Every driver, by its feature's spec key (its settings type's `feature`).
DRIVERS: dict[str, FeatureDriver[Any, Any]] = {d.name: d for d in (
    PanicRecovery(),
    Swapfile(),
    Earlyoom(),
    PersistentJournal(),
    Watchdog(),
    NoSleep(),
    Tailscale(),
    DiskCleanup(),
)}

__all__ = ["Command", "DRIVERS", "FeatureDriver", "Plan", "Planned", "RemoveFile", "Step", "WriteFile"]
