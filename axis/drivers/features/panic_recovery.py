"""panicRecovery: reboot N seconds after a kernel panic, and never panic on OOM.

pool wrote `kernel.panic_on_oom`, a key that does not exist (the knob is `vm.panic_on_oom`, and
`sysctl -p` fails on the unknown key); axis writes the real one. It writes them to its own sysctl.d file (so removal is exact)
and loads that file with `sysctl -p` — a live step that a namespaced kernel refuses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Literal

from axis.drivers.facts import Facts
from axis.drivers.facts.sections import Section
from axis.drivers.features.base import (MANAGED_MARK, Command, FeatureDriver, Planned, Probe, Step,
                                        remove_managed_step, write_step)
from axis.drivers.features.probes import file_bytes, file_probe, probe_lines
from axis.specs.features import PanicRecoverySettings

PATH = "/etc/sysctl.d/60-axis-recovery.conf"


@dataclass(frozen=True)
class State:
    file: bytes | None
    panic: str                 # /proc/sys/kernel/panic as the host's kernel reports it
    panic_on_oom: str


def render(settings: PanicRecoverySettings) -> str:
    return (f"{MANAGED_MARK}: panicRecovery\n"
            f"kernel.panic = {settings.panic_seconds}\n"
            "vm.panic_on_oom = 0\n")


class PanicRecovery(FeatureDriver[PanicRecoverySettings, State]):
    settings_type = PanicRecoverySettings
    oses: ClassVar[frozenset[str]] = frozenset({"linux"})

    def probes(self, settings: PanicRecoverySettings | Literal[False]) -> dict[str, Probe]:
        return {"panicRecovery.file": file_probe(PATH),
                "panicRecovery.panic": Probe("cat /proc/sys/kernel/panic"),
                "panicRecovery.oom": Probe("cat /proc/sys/vm/panic_on_oom")}

    def observe(self, sections: Mapping[str, Section]) -> State:
        def value(name: str, what: str) -> str:
            return "".join(probe_lines(sections, name, what)).strip()
        return State(file_bytes(sections, "panicRecovery.file", PATH),
                     value("panicRecovery.panic", "/proc/sys/kernel/panic"),
                     value("panicRecovery.oom", "/proc/sys/vm/panic_on_oom"))

    def plan(self, settings: PanicRecoverySettings | Literal[False], state: State, facts: Facts) -> Planned:
        if settings is False:
            return Planned(remove_managed_step(PATH, state.file, "panic recovery sysctls"))
        steps = write_step(PATH, render(settings), state.file, f"kernel.panic = {settings.panic_seconds}")
        if steps or state.panic != str(settings.panic_seconds) or state.panic_on_oom != "0":
            steps.append(Step("~", f"load {PATH} into the running kernel", Command(f"sysctl -p {PATH}"), live=True))
        return Planned(steps)
