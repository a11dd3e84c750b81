"""watchdog: the softdog module loaded at boot, and systemd pinging it (RuntimeWatchdogSec).

Two files axis owns: /etc/modules-load.d/axis-softdog.conf (`softdog`) and
/etc/systemd/system.conf.d/60-axis-watchdog.conf (`[Manager]` RuntimeWatchdogSec=<timeout>s,
ShutdownWatchdogSec=4min). Two live steps put them into effect now: `modprobe softdog` while
/sys/module/softdog is absent, and `systemctl daemon-reexec` while the manager's running
RuntimeWatchdogUSec differs from the timeout (a container's kernel or a host without systemd
refuses them, with its own message). `watchdog: false` removes both files and re-executes
systemd so it stops using the watchdog; softdog stays loaded until the next boot (unloading a
watchdog that is being pinged is how machines reboot by surprise).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Literal

from axis.drivers.facts import Facts
from axis.drivers.facts.sections import Section
from axis.drivers.features.base import (MANAGED_MARK, Command, FeatureDriver, Planned, Probe, Step, Unreadable,
                                        remove_managed_step, write_step)
from axis.drivers.features.probes import ASK_FN, answers, file_bytes, file_probe, probe_lines
from axis.specs.features import WatchdogSettings

MODULES = "/etc/modules-load.d/axis-softdog.conf"
SYSTEM = "/etc/systemd/system.conf.d/60-axis-watchdog.conf"
#: `softdog: loaded`, and systemd's RuntimeWatchdogUSec asked with `_axis_ask` where systemd
#: runs (sd_booted(3): /run/systemd/system); a `systemctl show` that fails there is a failure
#: to read, never "no watchdog" (see `probes.ASK_FN`).
PROBE = (ASK_FN + "[ -d /sys/module/softdog ] && echo 'softdog: loaded'; "
         "if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then "
         "_axis_ask runtime systemctl show -p RuntimeWatchdogUSec --value; "
         "else echo 'systemd: not running'; fi; exit 0")


@dataclass(frozen=True)
class State:
    modules: bytes | None
    system: bytes | None
    softdog_loaded: bool
    runtime: str              # the manager's RuntimeWatchdogUSec as `systemctl show` prints it ("" no systemd)


def render_modules() -> str:
    return f"{MANAGED_MARK}: watchdog\nsoftdog\n"


def render_system(settings: WatchdogSettings) -> str:
    return (f"{MANAGED_MARK}: watchdog\n[Manager]\nRuntimeWatchdogSec={settings.timeout_seconds}s\n"
            "ShutdownWatchdogSec=4min\n")


def timespan(seconds: int) -> str:
    """How systemd prints a whole number of seconds (`format_timespan`): 90 → "1min 30s"."""
    if seconds == 0:
        return "0"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return " ".join(parts)


class Watchdog(FeatureDriver[WatchdogSettings, State]):
    settings_type = WatchdogSettings
    oses: ClassVar[frozenset[str]] = frozenset({"linux"})

    def probes(self, settings: WatchdogSettings | Literal[False]) -> dict[str, Probe]:
        return {"watchdog.modules": file_probe(MODULES), "watchdog.system": file_probe(SYSTEM),
                "watchdog.live": Probe(PROBE)}

    def observe(self, sections: Mapping[str, Section]) -> State:
        plain, asks = answers(probe_lines(sections, "watchdog.live", "the softdog module and systemd's watchdog"))
        runtime = ""  # systemd does not run here: the re-exec step is live, and the host says no
        if "systemd" not in plain:
            shown = asks.get("runtime")
            if shown is None or shown.rc != 0:
                raise Unreadable("systemd's RuntimeWatchdogUSec", f"systemctl show: {shown.words()}" if shown
                                 else "the probe printed no answer")
            runtime = "".join(shown.lines).strip()  # stdout only: a warning on stderr made it differ every pass
        return State(file_bytes(sections, "watchdog.modules", MODULES), file_bytes(sections, "watchdog.system", SYSTEM),
                     plain.get("softdog") == "loaded", runtime)

    def plan(self, settings: WatchdogSettings | Literal[False], state: State, facts: Facts) -> Planned:
        reexec = Step("~", "re-execute systemd to apply the watchdog settings", Command("systemctl daemon-reexec"),
                      live=True)
        if settings is False:
            steps = remove_managed_step(MODULES, state.modules, "softdog at boot")
            system = remove_managed_step(SYSTEM, state.system, "systemd watchdog")
            return Planned(steps + system + ([reexec] if system else []))
        steps = write_step(MODULES, render_modules(), state.modules, "softdog at boot")
        written = write_step(SYSTEM, render_system(settings), state.system,
                             f"RuntimeWatchdogSec={settings.timeout_seconds}s")
        steps += written
        if not state.softdog_loaded:
            steps.append(Step("~", "load the softdog module", Command("modprobe softdog"), live=True))
        if written or state.runtime != timespan(settings.timeout_seconds):
            steps.append(reexec)
        return Planned(steps)
