"""The `memory_enforcement` section: how `axis exec` can cap a job's memory on this host.

The same tests the job runner makes again before each job (axis/drivers/jobs/runner.sh), read
from the facts so that placement can ask for a real cap (`requires.enforcement: cgroup`) and
`axis describe` shows what a claim's cap will be. cgroup: systemd is PID 1, the cgroup v2
hierarchy lists the memory controller, `systemd-run` is there, and the login user is root or
has passwordless sudo. A cgroup v2 tree without the memory controller is the trap: systemd then
accepts `MemoryMax=` and enforces nothing, so it is reported as the reason for the watchdog.
Watchdog: `ps` reports each process's group and RSS, and setsid, perl or python3 can give the
job a process group of its own.
"""

from __future__ import annotations

from .errors import FactMissing
from .models import MemoryEnforcementFacts, SudoFacts
from .text import key_values


def _cgroup_blocker(values: dict[str, str], macos: bool, sudo: SudoFacts | None) -> str | None:
    if macos:
        return "macOS has no cgroups"
    if values.get("systemd") != "yes":
        return "systemd is not PID 1 (axis sets a cgroup memory limit through systemd-run)"
    controllers = values.get("cgroup2-controllers")
    if controllers is None:
        return "no cgroup v2 hierarchy at /sys/fs/cgroup (cgroup v1 or none)"
    if "memory" not in controllers.split():
        return f"the cgroup v2 hierarchy has no memory controller (cgroup.controllers: {controllers or 'empty'})"
    if values.get("systemd-run") != "yes":
        return "systemd-run is not installed"
    if sudo is None:
        return "whether the login user can be root is unknown (no sudo fact)"
    if not sudo.is_root and not sudo.passwordless:
        return "systemd-run needs root: the login user is not root and sudo -n is not allowed"
    return None


def _watchdog_blocker(values: dict[str, str]) -> str | None:
    if values.get("ps") != "yes":
        return "ps -A -o pgid= -o rss= fails, so a job's memory cannot be measured"
    if values.get("group-tool") not in ("setsid", "perl", "python3"):
        return "neither setsid, perl nor python3 can give a job a process group of its own"
    return None


def parse_enforcement(lines: list[str], *, macos: bool, sudo: SudoFacts | None) -> MemoryEnforcementFacts:
    """The section's `key: value` lines (first of each key) → mode and reason; FactMissing when
    the section says nothing this parser knows."""
    values = key_values(lines, sep=": ")
    if "systemd" not in values or "ps" not in values:
        raise FactMissing("memory_enforcement printed no systemd/ps lines")
    no_cgroup = _cgroup_blocker(values, macos, sudo)
    if no_cgroup is None:
        how = "as root" if sudo is not None and sudo.is_root else "through sudo -n"
        return MemoryEnforcementFacts(mode="cgroup", reason=f"systemd-run {how} with a cgroup v2 memory controller")
    no_watchdog = _watchdog_blocker(values)
    if no_watchdog is None:
        return MemoryEnforcementFacts(mode="watchdog", reason=no_cgroup)
    return MemoryEnforcementFacts(mode="none", reason=f"{no_cgroup}; {no_watchdog}")
