"""The feature driver contract: probes → observe (pure) → plan (pure) → steps that `apply` runs.

A driver never talks to a host itself. It names shell probes whose output comes back in the
same single script as the facts (one round trip per host per pass); `observe` parses its
sections into a state; `plan(settings, state, facts)` returns the steps that would bring the
host to the desired state, and an empty list when it is already there. Only
`axis.drivers.features.execute` touches the host, and the reconciler observes again afterwards
to verify. A step marked `live` changes the running kernel or a service (swapon, sysctl -p,
modprobe) rather than a file: a namespaced host may refuse it, which is reported as *refused*
with the host's own words, and not retried while the desired settings stay the same.
"""

from __future__ import annotations

import difflib
import shlex
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol, Union

from pydantic import BaseModel

from axis.drivers.facts import Facts
from axis.drivers.facts.sections import Section

#: The first line of every file axis writes: removal only touches files that carry it.
MANAGED_MARK = "# managed by axis"
#: Where axis remembers what it installed itself (packages, directories), so `false` removes
#: exactly that and leaves what was there before axis.
STATE_DIR = "/var/lib/axis"

Op = Literal["+", "~", "-"]


@dataclass(frozen=True)
class WriteFile:
    path: str
    content: str
    mode: int = 0o644


@dataclass(frozen=True)
class RemoveFile:
    path: str


@dataclass(frozen=True)
class Command:
    """A shell command run as root; every value pasted into it must be shlex-quoted.

    `as_root=False` runs it as the login user instead (Homebrew refuses to run as root)."""

    command: str
    as_root: bool = True


Action = Union[WriteFile, RemoveFile, Command]


@dataclass(frozen=True)
class Step:
    op: Op
    summary: str             # one line for humans: "write /etc/sysctl.d/60-axis-recovery.conf"
    action: Action
    live: bool = False       # changes the running system; a namespaced host may refuse it
    detail: str = ""         # e.g. a unified diff of a file's content

    @property
    def target(self) -> str:
        a = self.action
        return a.command if isinstance(a, Command) else a.path

    @property
    def key(self) -> str:
        """Stable identity of the step, for remembering that the host refused it."""
        return f"{self.op} {self.summary}"


@dataclass
class Plan:
    feature: str
    applicable: bool = True
    steps: list[Step] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)   # e.g. "swap already 64 GiB ≥ 32 GiB"
    skipped: list[tuple[Step, str]] = field(default_factory=list)  # (step, why) refused earlier

    @property
    def changes(self) -> bool:
        return bool(self.steps)


class FeatureDriver(Protocol):
    name: ClassVar[str]          # the spec name, e.g. "panicRecovery"
    oses: ClassVar[frozenset[str]]  # facts.os.family values it applies to

    def probes(self, settings: BaseModel | Literal[False]) -> dict[str, str]:
        """Section name → shell command (run as the login user, no root needed) whose output
        `observe` reads. Names must be unique across drivers: prefix them with the feature."""
        ...

    def observe(self, sections: dict[str, Section]) -> Any:
        """Pure: the feature's current state from its probes' sections."""
        ...

    def plan(self, settings: BaseModel | Literal[False], state: Any, facts: Facts) -> list[Step]:
        """Pure: the steps from `state` to `settings` (`False` = remove what axis added)."""
        ...

    # Optional: `notes(settings, state, facts) -> list[str]`, pure like `plan`: remarks for the
    # Plan, e.g. why nothing is planned ("swap already 64Gi ≥ 32Gi"). See `driver_notes`.


def driver_notes(driver: FeatureDriver, settings: BaseModel | Literal[False], state: Any, facts: Facts) -> list[str]:
    """The driver's optional `notes(...)`, or none: the reconciler adds them to `Plan.notes`."""
    notes = getattr(driver, "notes", None)
    return list(notes(settings, state, facts)) if notes is not None else []


def file_text(section: Section | None) -> str | None:
    """The content a `cat`-style probe printed, or None when the file does not exist."""
    if section is None or not section.ok:
        return None
    return "".join(line + "\n" for line in section.lines)


def write_step(path: str, want: str, have: str | None, what: str, mode: int = 0o644,
               have_mode: int | None = None) -> list[Step]:
    """A step writing `want` to `path` when its content differs (none when it matches), or, when
    `have_mode` was observed, when its permissions do (a cron script chmod-ed 644 never runs)."""
    if have == want:
        if have_mode is None or have_mode == mode:
            return []
        return [Step("~", f"restore mode {mode:o} of {path} (is {have_mode:o}; {what})", WriteFile(path, want, mode))]
    if have is None:
        return [Step("+", f"create {path} ({what})", WriteFile(path, want, mode))]
    diff = "".join(difflib.unified_diff(have.splitlines(True), want.splitlines(True), path, path, n=0))
    return [Step("~", f"update {path} ({what})", WriteFile(path, want, mode), detail=diff)]


def remove_managed_step(path: str, have: str | None, what: str) -> list[Step]:
    """Remove `path` only if axis wrote it (it starts with the managed mark)."""
    if have is None or not have.startswith(MANAGED_MARK):
        return []
    return [Step("-", f"remove {path} ({what})", RemoveFile(path))]


def mode_probe(path: str) -> str:
    """A probe printing a file's permission bits in octal (GNU stat; Linux drivers only)."""
    return f"stat -c %a {shlex.quote(path)}"


def file_mode(section: Section | None) -> int | None:
    if section is None or not section.ok or not section.lines:
        return None
    try:
        return int(section.lines[0].strip(), 8)
    except ValueError:
        return None


def cat_probe(path: str) -> str:
    """A probe printing a file, failing (so `file_text` gives None) when it does not exist."""
    return f"cat {shlex.quote(path)}"
