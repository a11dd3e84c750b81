"""Bootstrap feature drivers, one module each; this registry is the one place a feature is added.

See `base.py` for the contract (probes → observe → plan → steps) that every driver follows.
"""

from __future__ import annotations

from axis.drivers.features.base import (Command, FeatureDriver, Plan, RemoveFile, Step, WriteFile)
from axis.drivers.features.disk_cleanup import DiskCleanup
from axis.drivers.features.earlyoom import Earlyoom
from axis.drivers.features.no_sleep import NoSleep
from axis.drivers.features.panic_recovery import PanicRecovery
from axis.drivers.features.persistent_journal import PersistentJournal
from axis.drivers.features.swapfile import Swapfile
from axis.drivers.features.tailscale import Tailscale
from axis.drivers.features.watchdog import Watchdog

DRIVERS: dict[str, FeatureDriver] = {d.name: d for d in (
    PanicRecovery(),
    Swapfile(),
    Earlyoom(),
    PersistentJournal(),
    Watchdog(),
    NoSleep(),
    Tailscale(),
    DiskCleanup(),
)}

__all__ = ["Command", "DRIVERS", "FeatureDriver", "Plan", "RemoveFile", "Step", "WriteFile"]
