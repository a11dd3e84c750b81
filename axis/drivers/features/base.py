"""The feature driver contract: probes → observe (pure) → plan (pure) → steps that `apply` runs.

A driver never talks to a host itself. It names shell probes whose output comes back in the
same single script as the facts (one round trip per observation: a pass that changes a host
observes it again to verify, and each step is one more); `observe` parses its
sections into a state; `plan(settings, state, facts)` returns the steps that would bring the
host to the desired state (none when it is already there) together with notes for people.
`FeatureDriver` is generic in the feature's settings model and its observed state, so the
type checker holds each driver to its own settings class. Reading probe output (file bytes,
tool answers) is `probes.py`'s.

A failed read is never "absent". Every file probe answers one of three ways: present (its exact
bytes), absent (the host said "No such file or directory": exit status `probes.ABSENT_EXIT`), or
unreadable (any other failure, with the host's words). `observe` raises `Unreadable` when a
probe it depends on could not be read, and the reconciler then plans nothing for that feature
and reports it failed with the reason: planning from a root-only /etc/fstab read as "absent"
would replace the host's fstab. File probes run with the steps' privilege (`Probe.as_root`).

Files are read as bytes (the probe prints a hex dump, so no decoding, line splitting or framing
on the way can alter them) and written as bytes: a file axis shares with the host (/etc/fstab)
keeps every byte of every line that is not axis's. Only
`axis.drivers.features.execute` touches the host, and the reconciler observes again afterwards
to verify. A step marked `live` changes the running kernel or a service (swapon, sysctl -p,
modprobe) rather than a file: a namespaced host may refuse it, which is reported as *refused*
with the host's own words, and not retried while the desired settings stay the same.
"""

from __future__ import annotations

import difflib
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Generic, Literal, TypeVar

from axis.drivers.facts import Facts
from axis.drivers.facts.sections import Section
from axis.drivers.transport import content_digest
from axis.specs.features import FeatureSettings
from axis.drivers.plan_ops import Op

#: The first line of every file axis writes: removal only touches files that carry it.
MANAGED_MARK = "# managed by axis"
#: Where axis remembers what it installed itself (packages, directories), so `false` removes
#: exactly that and leaves what was there before axis.
STATE_DIR = "/var/lib/axis"




@dataclass(frozen=True)
class WriteFile:
    """Write `content` to `path`. `expect`: what the file must still be when it is replaced
    (`transport.content_digest` of the bytes the probe read, or "absent"), so that an edit made
    between the probe and the write (by hand, minutes later after a swap file's dd) is never
    lost: the write fails instead, and the next pass re-reads the file. None: no check."""

    path: str
    content: bytes
    mode: int = 0o644
    expect: str | None = None


@dataclass(frozen=True)
class RemoveFile:
    path: str


@dataclass(frozen=True)
class Command:
    """A shell command run as root; every value pasted into it must be shlex-quoted.

    `as_root=False` runs it as the login user instead (Homebrew refuses to run as root)."""

    command: str
    as_root: bool = True


Action = WriteFile | RemoveFile | Command


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
    #: Why the feature's state is unknown (a probe could not read the host): no step is planned.
    error: str = ""

    @property
    def changes(self) -> bool:
        return bool(self.steps)


@dataclass(frozen=True)
class Probe:
    """A shell command whose output `observe` reads, sent with the facts script.

    `as_root`: run it with the privilege the steps get (root, or `sudo -n` when the host's spec
    allows sudo): a file axis may rewrite must be read by whoever will write it, or a root-only
    file would look unreadable (or worse, absent). Otherwise it runs as the login user
    (Homebrew refuses root). `path`: the file whose bytes a `file_probe` prints."""

    command: str
    as_root: bool = False
    path: str | None = None


class Unreadable(Exception):
    """A probe failed for a reason other than "no such file": the feature's state is unknown.

    Raised by `observe`; the reconciler turns it into a Plan with `error` set and no steps."""

    def __init__(self, what: str, reason: str):
        super().__init__(f"cannot read {what}: {reason}")
        self.what = what
        self.reason = reason


#: A driver's settings model (one of `axis.specs.features.FEATURES`) and its observed state.
SettingsT = TypeVar("SettingsT", bound=FeatureSettings)
StateT = TypeVar("StateT")


@dataclass(frozen=True)
class Planned:
    """What `plan` decided: the steps, and remarks for the Plan (e.g. why nothing is planned:
    "swap already 64Gi ≥ 32Gi"), decided together from the same state."""

    steps: list[Step] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class FeatureDriver(ABC, Generic[SettingsT, StateT]):
    """One feature's driver. `settings_type` is the feature's settings model, which also names
    the feature (`settings_type.feature`, the spec key): the registry in `__init__.py` joins
    driver and settings by this type, never by a string."""

    settings_type: type[SettingsT]
    oses: ClassVar[frozenset[str]]  # facts.os.family values it applies to

    @property
    def name(self) -> str:
        """The spec name, e.g. "panicRecovery"."""
        return self.settings_type.feature

    @abstractmethod
    def probes(self, settings: SettingsT | Literal[False]) -> dict[str, Probe]:
        """Section name → the probe whose output `observe` reads. Names must be unique across
        drivers: prefix them with the feature."""

    @abstractmethod
    def observe(self, sections: Mapping[str, Section]) -> StateT:
        """Pure: the feature's current state from its probes' sections; raises `Unreadable`
        when a probe it needs failed (never guesses "absent" or "off" from a failure)."""

    @abstractmethod
    def plan(self, settings: SettingsT | Literal[False], state: StateT, facts: Facts) -> Planned:
        """Pure: the steps from `state` to `settings` (`False` = remove what axis added), and
        the notes that say why where that is not obvious."""


def _encode(content: str | bytes) -> bytes:
    return content.encode() if isinstance(content, str) else content


def write_step(path: str, want: str | bytes, have: bytes | None, what: str, mode: int = 0o644,
               have_mode: int | None = None) -> list[Step]:
    """A step writing `want` to `path` when its content differs (none when it matches), or, when
    `have_mode` was observed, when its permissions do (a cron script chmod-ed 644 never runs).
    `have` is the file's exact bytes (None: the host said it does not exist); the write happens
    only over exactly those (`WriteFile.expect`)."""
    data = _encode(want)
    if have == data and (have_mode is None or have_mode == mode):
        return []  # in sync: no digest to compute (this runs for every file, twice a pass)
    write = WriteFile(path, data, mode, content_digest(have))
    if have == data:
        return [Step("~", f"restore mode {mode:o} of {path} (is {have_mode:o}; {what})", write)]
    if have is None:
        return [Step("+", f"create {path} ({what})", write)]
    # lines end at "\n" only, as the host's tools see them (not at \f or U+2028 as splitlines)
    old, new = ([p for p in re.split(r"(?<=\n)", b.decode("utf-8", errors="replace")) if p] for b in (have, data))
    diff = "".join(difflib.unified_diff(old, new, path, path, n=0))
    return [Step("~", f"update {path} ({what})", write, detail=diff)]


def remove_managed_step(path: str, have: bytes | None, what: str) -> list[Step]:
    """Remove `path` only if axis wrote it (it starts with the managed mark)."""
    if have is None or not have.startswith(MANAGED_MARK.encode()):
        return []
    return [Step("-", f"remove {path} ({what})", RemoveFile(path))]
