"""noSleep (macOS): the machine, its display and its disks never sleep (`pmset -a ... 0`).

Before the first change axis records the values it is about to replace, per power source as
`pmset -g custom` lists them ("AC Power", "Battery Power", "UPS Power"), in a file under
STATE_DIR; an existing record is never overwritten, so it always holds the values from before
axis. `noSleep: false` restores exactly those values (`pmset -c|-b|-u ...`) and deletes the
record; without a record axis never changed anything, and nothing is touched.

Whether anything differs is read from facts.sleep_settings (`pmset -g`, the settings in use)
and from every power source's profile, so a laptop on AC converges its battery profile too.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from axis.drivers.facts import Facts
from axis.drivers.facts.sections import Section
from axis.drivers.features.base import (MANAGED_MARK, STATE_DIR, Command, FeatureDriver, Planned, Probe, RemoveFile,
                                        Step, write_step)
from axis.drivers.features.probes import file_bytes, file_probe, probe_lines
from axis.specs.features import NoSleepSettings

KEYS = ("displaysleep", "sleep", "disksleep")
RECORD = f"{STATE_DIR}/nosleep.previous"
APPLY = "pmset -a displaysleep 0 sleep 0 disksleep 0"
#: pmset's flag for each power source of `pmset -g custom`; "All" is a record made from
#: `pmset -g` alone (no per-source profiles were readable), restored with -a.
SOURCES = {"AC Power": "-c", "Battery Power": "-b", "UPS Power": "-u", "All": "-a"}

_SETTING_RE = re.compile(r"^\s+(\S.*?)\s+(\S+)\s*$")
_RECORD_RE = re.compile(r"^([A-Za-z ]+):((?:\s+[a-z]+=\d+)*)\s*$")


@dataclass(frozen=True)
class State:
    profiles: dict[str, dict[str, str]] = field(default_factory=dict)  # source → {key: value}
    record: bytes | None = None

    @property
    def saved(self) -> dict[str, dict[str, str]] | None:
        """The values recorded before axis changed them (None: no record axis wrote)."""
        if self.record is None or not self.record.startswith(MANAGED_MARK.encode()):
            return None
        out: dict[str, dict[str, str]] = {}
        for line in self.record.decode("utf-8", errors="replace").split("\n"):
            m = _RECORD_RE.match(line)
            if m and m.group(1) in SOURCES:
                out[m.group(1)] = dict(kv.split("=", 1) for kv in m.group(2).split())
        return out


def parse_custom(lines: list[str]) -> dict[str, dict[str, str]]:
    """`pmset -g custom`: a `Source Power:` header, then indented `key value` lines."""
    out: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in lines:
        if line and not line[0].isspace() and line.rstrip().endswith(":"):
            current = out.setdefault(line.rstrip()[:-1].strip(), {})
        elif current is not None and (m := _SETTING_RE.match(line)):
            current.setdefault(m.group(1), m.group(2))
    return out


def _wanted(values: dict[str, str]) -> dict[str, str]:
    return {k: values[k] for k in KEYS if k in values}


def render_record(profiles: dict[str, dict[str, str]]) -> str:
    lines = [f"{MANAGED_MARK}: noSleep (sleep settings before axis set them to 0; `noSleep: false` restores them)"]
    for source, values in profiles.items():
        lines.append(f"{source}: " + " ".join(f"{k}={v}" for k, v in _wanted(values).items() if v.isdigit()))
    return "\n".join(lines) + "\n"


def restore_command(saved: dict[str, dict[str, str]]) -> str:
    parts = []
    for source, values in saved.items():
        args = " ".join(f"{k} {shlex.quote(v)}" for k, v in values.items() if k in KEYS and v.isdigit())
        if args:
            parts.append(f"pmset {SOURCES[source]} {args}")
    return " && ".join(parts)


class NoSleep(FeatureDriver[NoSleepSettings, State]):
    settings_type = NoSleepSettings
    oses: ClassVar[frozenset[str]] = frozenset({"macos"})

    def probes(self, settings: NoSleepSettings | Literal[False]) -> dict[str, Probe]:
        return {"noSleep.custom": Probe("pmset -g custom"), "noSleep.record": file_probe(RECORD)}

    def observe(self, sections: Mapping[str, Section]) -> State:
        """A failed `pmset -g custom` leaves the values to record unknown: `Unreadable`, since a
        record made from a guess would be what `noSleep: false` restores."""
        profiles = parse_custom(probe_lines(sections, "noSleep.custom", "the power profiles (pmset -g custom)"))
        return State({s: v for s, v in profiles.items() if s in SOURCES},
                     file_bytes(sections, "noSleep.record", RECORD))

    def plan(self, settings: NoSleepSettings | Literal[False], state: State, facts: Facts) -> Planned:
        return Planned(self._steps(settings, state, facts), self._notes(settings, state, facts))

    def _steps(self, settings: NoSleepSettings | Literal[False], state: State, facts: Facts) -> list[Step]:
        if settings is False:
            saved = state.saved
            if saved is None:
                return []
            steps = []
            if command := restore_command(saved):
                summary = "restore the sleep settings from before axis (" + "; ".join(
                    f"{s}: " + " ".join(f"{k} {v}" for k, v in vals.items()) for s, vals in saved.items()) + ")"
                steps.append(Step("~", summary, Command(command)))
            return steps + [Step("-", f"remove {RECORD} (the settings axis restored)", RemoveFile(RECORD))]
        current = {s: _wanted(v) for s, v in state.profiles.items()}
        if not current and facts.sleep_settings:
            current = {"All": _wanted(facts.sleep_settings)}
        in_use = _wanted(facts.sleep_settings or {})
        if all(v == "0" for values in (*current.values(), in_use) for v in values.values()):
            return []
        steps = []
        if state.saved is None:
            steps += write_step(RECORD, render_record(current), state.record, "the sleep settings before axis")
        steps.append(Step("~", "never sleep: displaysleep 0, sleep 0, disksleep 0", Command(APPLY)))
        return steps

    def _notes(self, settings: NoSleepSettings | Literal[False], state: State, facts: Facts) -> list[str]:
        if settings is False and state.saved is None:
            return ["axis did not change the sleep settings: left as they are"]
        if settings is not False and not state.profiles and not facts.sleep_settings:
            return ["sleep settings unknown (pmset printed none)"]
        return []
