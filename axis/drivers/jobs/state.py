"""A job's state as `job_state_command` prints it, read into `JobState`. Pure; never raises.

The text comes from files the job itself could write (it runs as the same user), so every
value is checked for its shape and a value of the wrong shape is unknown (None), never an
error. The first line for a name wins: the command prints the runner's files in a fixed order
before anything a unit adds. What the kernel says about a systemd unit is believed over the
runner's files where they disagree about a memory kill: a unit whose `Result` is `oom-kill`, or
whose cgroup counted an `oom_kill`, was killed for memory even when the runner, killed with it,
could not write `oom` or `exit`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from axis.drivers.jobs.protocol import EnforcementMode

#: The exit status of a job killed for memory (128 + SIGKILL, as a shell reports it).
EXIT_OOM = 137

_INT = re.compile(r"[0-9]{1,19}")
_NAME = re.compile(r"(?:unit\.|events\.)?[A-Za-z_]{1,40}")
_MAX_VALUE = 500


@dataclass(frozen=True)
class JobState:
    """What a host says about one job. `running`: its process group has a process left (an `exit`
    is then not believed, and None). `running` False with `exit` None: the job is gone without
    an exit status (host rebooted, runner killed) or was never started; `pgid` None: it never
    started (the runner refused: `enforcement` says why). `oom_used`/`oom_cap` are set when the
    job was killed for using more memory than its cap."""

    running: bool
    exit: int | None = None
    oom_used: int | None = None
    oom_cap: int | None = None
    enforcement: str | None = None
    started: int | None = None
    ended: int | None = None
    pgid: int | None = None
    unit: str | None = None
    missing: bool = False
    cap: int | None = None

    @property
    def oom_killed(self) -> bool:
        return self.oom_cap is not None

    @property
    def enforcement_mode(self) -> EnforcementMode | None:
        """`cgroup`, `watchdog` or `none`: the first word of `enforcement`."""
        word = (self.enforcement or "").split(" ", 1)[0]
        return word if word in ("cgroup", "watchdog", "none") else None  # type: ignore[return-value]

    @property
    def enforcement_reason(self) -> str:
        return (self.enforcement or "").partition(" ")[2]


def _int(value: str | None) -> int | None:
    return int(value) if value is not None and _INT.fullmatch(value) else None


def key_values(text: str) -> dict[str, str]:
    """`name=value` lines (the first of each name) as a dict; other lines are ignored."""
    found: dict[str, str] = {}
    for line in text.split("\n") if isinstance(text, str) else []:
        name, sep, value = line.partition("=")
        if sep and _NAME.fullmatch(name) and name not in found:
            found[name] = value.strip()[:_MAX_VALUE]
    return found


def _oom(values: dict[str, str]) -> tuple[int | None, int | None]:
    parts = values.get("oom", "").split()
    if len(parts) == 2 and all(_INT.fullmatch(p) for p in parts):
        return int(parts[0]), int(parts[1])
    return None, None


def parse_job_state(text: str) -> JobState:
    """`job_state_command`'s output as a JobState; never raises, whatever the text."""
    values = key_values(text)
    if values.get("missing") == "1":
        return JobState(running=False, missing=True)
    used, cap_at_kill = _oom(values)
    cap = _int(values.get("cap"))
    exit_status = _int(values.get("exit"))
    killed_by_kernel = (values.get("unit.Result") == "oom-kill"
                        or (_int(values.get("events.oom_kill")) or 0) > 0)
    if cap_at_kill is None and killed_by_kernel and cap:
        used, cap_at_kill = cap, cap  # the runner died with the job; the kernel kept the count
    # A group with a process left runs, whatever `exit` says: the runner writes `exit` only once
    # the group is gone, and the job itself could write one.
    running = values.get("running") == "1"
    if running:
        exit_status = None
    if cap_at_kill is not None and not running:
        exit_status = EXIT_OOM
    unit = values.get("unit")
    return JobState(
        running=running, exit=exit_status, oom_used=used, oom_cap=cap_at_kill,
        enforcement=values.get("enforcement") or None, started=_int(values.get("started")),
        ended=_int(values.get("ended")), pgid=_int(values.get("pgid")),
        unit=unit if unit and re.fullmatch(r"axis-job-[-a-z0-9]{1,80}\.(scope|service)", unit) else None,
        cap=cap,
    )
