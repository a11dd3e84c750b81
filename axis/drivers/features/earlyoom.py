"""earlyoom: the package installed with the host's package manager, its service enabled and running.

axis remembers that it installed the package (a marker under STATE_DIR, written right after the
install), so `earlyoom: false` disables and purges only a package axis installed; one that was
there before axis is left installed (axis just stops managing it, and says so).

How a package is asked about, installed, removed and its service enabled is `packages.py`'s,
shared with `tailscale`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Literal

from axis.drivers.facts import Facts
from axis.drivers.facts.sections import Section
from axis.drivers.features.base import STATE_DIR, FeatureDriver, Planned, Probe, Step
from axis.drivers.features.packages import (PackageState, install_steps, not_axis_note, observe_package,
                                            package_probe, remove_steps, systemd_service_step)
from axis.drivers.features.probes import file_probe
from axis.specs.features import EarlyoomSettings

PACKAGE = "earlyoom"
SERVICE = "earlyoom"
MARKER = f"{STATE_DIR}/earlyoom.installed"


class Earlyoom(FeatureDriver[EarlyoomSettings, PackageState]):
    settings_type = EarlyoomSettings
    oses: ClassVar[frozenset[str]] = frozenset({"linux"})

    def probes(self, settings: EarlyoomSettings | Literal[False]) -> dict[str, Probe]:
        return {"earlyoom.pkg": Probe(package_probe(PACKAGE, SERVICE)), "earlyoom.marker": file_probe(MARKER)}

    def observe(self, sections: Mapping[str, Section]) -> PackageState:
        return observe_package(sections, "earlyoom.pkg", "earlyoom.marker", MARKER, PACKAGE, SERVICE)

    def plan(self, settings: EarlyoomSettings | Literal[False], state: PackageState, facts: Facts) -> Planned:
        return Planned(self._steps(settings, state, facts), not_axis_note(PACKAGE, state, removing=settings is False))

    @staticmethod
    def _steps(settings: EarlyoomSettings | Literal[False], state: PackageState, facts: Facts) -> list[Step]:
        if settings is False:
            if not state.marker:
                return []
            stop = systemd_service_step(SERVICE, state, facts, enable=False) if state.installed else []
            return stop + remove_steps(PACKAGE, MARKER, state, facts)
        return install_steps(PACKAGE, MARKER, state, facts) + systemd_service_step(SERVICE, state, facts, enable=True)
