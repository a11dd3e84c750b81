"""tailscale: the package installed and its daemon enabled; `tailscale up` stays manual.

Linux: package `tailscale` with the host's package manager (the same helpers as earlyoom) and
`systemctl enable --now tailscaled`. No third-party repository is added: on a host whose
package sources lack tailscale (plain Debian), the install step fails with apt's own message.

macOS: `brew install tailscale` runs as the login user (Homebrew refuses root: the step is a
`Command(as_root=False)`), and `brew services start tailscale` runs as root, which installs a
LaunchDaemon: tailscaled configures the network (utun, routes) and needs root, and a root
daemon also runs before anyone logs in. The brew binary is called by its full path from the
facts, because sudo's secure_path does not include Homebrew's prefix.

`tailscale: false` stops the daemon and removes the package only if axis installed it (marker
under STATE_DIR); logging the machine in or out of a tailnet is never done by axis.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Literal

from axis.drivers.facts import Facts
from axis.drivers.facts.sections import Section
from axis.drivers.features.base import STATE_DIR, Command, FeatureDriver, Planned, Probe, Step
from axis.drivers.features.probes import file_probe
from axis.drivers.features.packages import (PackageState, brew_path, install_steps, not_axis_note, observe_package,
                                            package_probe, remove_steps, service_running,
                                            systemd_service_step)
from axis.specs.features import TailscaleSettings

PACKAGE = "tailscale"
SERVICE = "tailscaled"
MARKER = f"{STATE_DIR}/tailscale.installed"
MANUAL = "`tailscale up` stays manual: run `sudo tailscale up` on the host to join a tailnet"


class Tailscale(FeatureDriver[TailscaleSettings, PackageState]):
    settings_type = TailscaleSettings
    oses: ClassVar[frozenset[str]] = frozenset({"linux", "macos"})

    def probes(self, settings: TailscaleSettings | Literal[False]) -> dict[str, Probe]:
        # the package probe runs as the login user: on macOS it asks Homebrew, which refuses root
        return {"tailscale.pkg": Probe(package_probe(PACKAGE, SERVICE)), "tailscale.marker": file_probe(MARKER)}

    def observe(self, sections: Mapping[str, Section]) -> PackageState:
        return observe_package(sections, "tailscale.pkg", "tailscale.marker", MARKER, PACKAGE, SERVICE)

    def plan(self, settings: TailscaleSettings | Literal[False], state: PackageState, facts: Facts) -> Planned:
        return Planned(self._steps(settings, state, facts), self._notes(settings, state, facts))

    def _steps(self, settings: TailscaleSettings | Literal[False], state: PackageState, facts: Facts) -> list[Step]:
        macos = facts.os is not None and facts.os.family == "macos"
        if settings is False:
            if not state.marker:
                return []
            if not state.installed:
                stop = []
            elif macos:
                stop = [] if not (state.enabled or state.active) else [Step(
                    "~", "stop the tailscale service", Command(f"{brew_path(facts)} services stop {PACKAGE}"))]
            else:
                stop = systemd_service_step(SERVICE, state, facts, enable=False)
            return stop + remove_steps(PACKAGE, MARKER, state, facts)
        steps = install_steps(PACKAGE, MARKER, state, facts)
        if not macos:
            return steps + systemd_service_step(SERVICE, state, facts, enable=True)
        if not service_running(state):
            steps.append(Step("~", "start the tailscale service (root LaunchDaemon)",
                              Command(f"{brew_path(facts)} services start {PACKAGE}")))
        return steps

    def _notes(self, settings: TailscaleSettings | Literal[False], state: PackageState, facts: Facts) -> list[str]:
        notes = not_axis_note(PACKAGE, state, removing=settings is False)
        return notes if settings is False else [*notes, MANUAL]
