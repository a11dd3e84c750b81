"""diskCleanup: a daily cron script that frees disk space, the same script `axis clean` runs now.

The script text comes from `cleanup_script.render(settings)` (see that module for the tiers and
for what pool got wrong). The driver only keeps /etc/cron.daily/axis-disk-cleanup equal to it;
`false` removes the script and the log file the script created, each only if it carries axis's
mark. A host without a cron daemon (or without /etc/cron.daily, which the write creates) still
gets the file, and the step says that it will not run until cron is there.
"""

from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Literal

from axis.drivers.facts import Facts
from axis.drivers.facts.sections import Section
from axis.drivers.features.base import FeatureDriver, Planned, Probe, Step, remove_managed_step, write_step
from axis.drivers.features.probes import ENOENT_FN, file_bytes, file_mode, file_probe, mode_probe, probe_lines
from axis.drivers.features.cleanup_script import LOG_PATH, SCRIPT_PATH, render
from axis.specs.features import DiskCleanupSettings

#: Programs that run /etc/cron.daily (cron, cronie, busybox crond, anacron, systemd-cron's timer).
CRON_RUNNERS = ("/usr/sbin/cron", "/usr/sbin/crond", "/usr/bin/crond", "/sbin/crond", "/usr/sbin/anacron",
                "/usr/bin/fcron", "/usr/sbin/fcron", "/lib/systemd/system/cron-daily.timer",
                "/usr/lib/systemd/system/cron-daily.timer")
CRON_TOOLS = ("cron", "crond", "anacron")

#: `runner=PATH` per runner found, `daily=yes|no`. "Not there" only when the host says so (a
#: `test -e` that is false for EACCES would say "no cron" for a failure): see `ENOENT_FN`.
_CRON_PROBE = (f"LC_ALL=C; export LC_ALL; {ENOENT_FN}for p in " + " ".join(shlex.quote(p) for p in CRON_RUNNERS)
               + '; do if [ -e "$p" ]; then echo "runner=$p"; elif [ ! -L "$p" ] && ! _axis_enoent "$p"; '
               "then exit 1; fi; done; if [ -d /etc/cron.daily ]; then echo daily=yes; "
               "elif [ -e /etc/cron.daily ] || [ -L /etc/cron.daily ] || _axis_enoent /etc/cron.daily; "
               "then echo daily=no; else exit 1; fi")


@dataclass(frozen=True)
class State:
    script: bytes | None           # the installed script, None when absent
    log_head: bytes | None         # the log file's first bytes (its first line), None when absent
    cron_runners: tuple[str, ...] = ()
    cron_daily: bool | None = None  # /etc/cron.daily exists; None when the probe said nothing
    script_mode: int | None = None  # permission bits of the installed script


#: Bytes of the log read: its first line carries the managed mark (the log itself may be large).
LOG_HEAD_BYTES = 256


def _without_shebang(data: bytes | None) -> bytes | None:
    """The script from its second line on: the managed mark follows `#!/bin/sh`."""
    if data is None or not data.startswith(b"#!"):
        return data
    return data.partition(b"\n")[2]


def cron_problem(state: State, facts: Facts) -> str | None:
    """Why the installed script would not run daily, or None when cron is there."""
    has_runner = bool(state.cron_runners) or any(facts.tools.get(t) for t in CRON_TOOLS)
    if not has_runner:
        return "no cron daemon found on the host: the script will not run until one is installed"
    if state.cron_daily is False:
        return "the host had no /etc/cron.daily: check that its cron runs that directory"
    return None


class DiskCleanup(FeatureDriver[DiskCleanupSettings, State]):
    settings_type = DiskCleanupSettings
    oses: ClassVar[frozenset[str]] = frozenset({"linux"})

    def probes(self, settings: DiskCleanupSettings | Literal[False]) -> dict[str, Probe]:
        return {"diskCleanup.script": file_probe(SCRIPT_PATH),
                "diskCleanup.log": file_probe(LOG_PATH, limit=LOG_HEAD_BYTES),
                "diskCleanup.cron": Probe(_CRON_PROBE),
                "diskCleanup.mode": mode_probe(SCRIPT_PATH)}

    def observe(self, sections: Mapping[str, Section]) -> State:
        lines = probe_lines(sections, "diskCleanup.cron", "the host's cron")
        runners = tuple(line.partition("=")[2] for line in lines if line.startswith("runner="))
        daily = "daily=yes" in lines if any(line.startswith("daily=") for line in lines) else None
        return State(file_bytes(sections, "diskCleanup.script", SCRIPT_PATH),
                     file_bytes(sections, "diskCleanup.log", LOG_PATH),
                     runners, daily, file_mode(sections, "diskCleanup.mode", SCRIPT_PATH))

    def plan(self, settings: DiskCleanupSettings | Literal[False], state: State, facts: Facts) -> Planned:
        return Planned(self._steps(settings, state, facts), self._notes(settings, state, facts))

    def _steps(self, settings: DiskCleanupSettings | Literal[False], state: State, facts: Facts) -> list[Step]:
        if settings is False:
            return (remove_managed_step(SCRIPT_PATH, _without_shebang(state.script), "daily disk clean-up")
                    + remove_managed_step(LOG_PATH, state.log_head, "disk clean-up log"))
        what = (f"daily disk clean-up, retention {settings.retention_days}d, "
                f"deep tier at {settings.deep_at_percent}%")
        steps = write_step(SCRIPT_PATH, render(settings), state.script, what, mode=0o755,
                           have_mode=state.script_mode)
        problem = cron_problem(state, facts)
        if problem:
            steps = [dataclasses.replace(s, summary=f"{s.summary}; {problem}") for s in steps]
        return steps

    def _notes(self, settings: DiskCleanupSettings | Literal[False], state: State, facts: Facts) -> list[str]:
        """Still said when the script is in place: it will not run without cron."""
        problem = None if settings is False else cron_problem(state, facts)
        return [problem] if problem else []
