"""The feature driver contract: probes → observe (pure) → plan (pure) → steps that `apply` runs.

A driver never talks to a host itself. It names shell probes whose output comes back in the
same single script as the facts (one round trip per host per pass); `observe` parses its
sections into a state; `plan(settings, state, facts)` returns the steps that would bring the
host to the desired state, and an empty list when it is already there.

A failed read is never "absent". Every file probe answers one of three ways: present (its exact
bytes), absent (the host said "No such file or directory": exit status ABSENT_EXIT), or
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
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol

from pydantic import BaseModel

from axis.drivers.facts import Facts
from axis.drivers.facts.sections import Section
from axis.drivers.transport import content_digest

#: The first line of every file axis writes: removal only touches files that carry it.
MANAGED_MARK = "# managed by axis"
#: Where axis remembers what it installed itself (packages, directories), so `false` removes
#: exactly that and leaves what was there before axis.
STATE_DIR = "/var/lib/axis"

Op = Literal["+", "~", "-"]

#: The exit status of a file probe when the host said there is no such file. Nothing else in a
#: probe exits with it (`od`, `stat` and sudo fail with 1, the shell with 126/127), so the
#: tri-state travels in the exit status and never in output that host data could imitate.
ABSENT_EXIT = 3


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


@dataclass(frozen=True)
class FileRead:
    """One file as a probe saw it: present (with its exact bytes), absent, or unreadable."""

    kind: Literal["present", "absent", "unreadable"]
    data: bytes = b""
    reason: str = ""   # for unreadable: the host's words


class FeatureDriver(Protocol):
    name: ClassVar[str]          # the spec name, e.g. "panicRecovery"
    oses: ClassVar[frozenset[str]]  # facts.os.family values it applies to

    def probes(self, settings: BaseModel | Literal[False]) -> dict[str, Probe]:
        """Section name → the probe whose output `observe` reads. Names must be unique across
        drivers: prefix them with the feature."""
        ...

    def observe(self, sections: Mapping[str, Section]) -> Any:
        """Pure: the feature's current state from its probes' sections; raises `Unreadable`
        when a probe it needs failed (never guesses "absent" or "off" from a failure)."""
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


#: sh function `_axis_enoent PATH`, run after a read of PATH failed: status 0 when the host says
#: nothing is there (`ls -d` answers "No such file or directory" in the C locale; a symbolic link
#: to a missing file is something, not nothing), else 1 with the host's words on stderr.
ENOENT_FN = (
    '_axis_enoent() { _axis_e=$(LC_ALL=C ls -d -- "$1" 2>&1 >/dev/null) && '
    '{ [ -L "$1" ] && [ ! -e "$1" ] && printf \'%s is a symbolic link to a missing file\\n\' "$1" >&2; return 1; }; '
    'case $_axis_e in *": No such file or directory") return 0;; esac; '
    'printf \'%s\\n\' "$_axis_e" >&2; return 1; }; ')


#: sh function `_axis_ask KEY CMD...`: runs CMD and prints its exit status as `KEY.rc: N`, each
#: line it printed on stdout as `KEY: line` and each line on stderr as `KEY.err: line`. For probes
#: that ask a tool a question: `answers` gives them back, and the driver tells the tool's
#: documented negative answer ("no packages found matching X", exit 1) from a failure to ask
#: (anything else, which makes the feature `Unreadable` with the tool's words); `2>/dev/null ||`
#: would take a locked database or a dead bus for "not installed" or "off". The streams stay
#: apart so that a warning on stderr ("dpkg-query: warning: parsing file ...") is never read as
#: part of the answer: merged, it turned dpkg's "ii " into "not installed". The stderr lines may
#: come before or after the `.rc` line (two processes write them); `answers` does not mind.
ASK_FN = (
    '_axis_ask() { _axis_k=$1; shift; '
    '{ { _axis_o=$("$@" 2>&3 3>&- 4>&-); _axis_r=$?; '
    'printf \'%s.rc: %s\\n\' "$_axis_k" "$_axis_r"; '
    '[ -z "$_axis_o" ] || printf \'%s\\n\' "$_axis_o" | while IFS= read -r _axis_l; do '
    'printf \'%s: %s\\n\' "$_axis_k" "$_axis_l"; done; } 3>&1 1>&4 | '
    'while IFS= read -r _axis_l || [ -n "$_axis_l" ]; do '
    'printf \'%s.err: %s\\n\' "$_axis_k" "$_axis_l"; done; } 4>&1; }; ')

#: An exit status as `_axis_ask` prints it: ASCII digits only (`str.isdigit` takes "²").
_STATUS = re.compile(r"-?[0-9]+")


@dataclass(frozen=True)
class Answer:
    """What a tool said to one `_axis_ask`: its exit status, the lines it printed on stdout
    (`lines`, the answer proper) and on stderr (`errors`: warnings, error messages)."""

    rc: int
    lines: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()

    def words(self) -> str:
        """The tool's own words and status, for a reason: "dpkg-query: error ... (exit 2)"."""
        said = " | ".join(line.strip() for line in (*self.lines, *self.errors) if line.strip())[:300]
        return f"{said} (exit {self.rc})" if said else f"exit {self.rc} without a word"


def answers(lines: list[str]) -> tuple[dict[str, str], dict[str, Answer]]:
    """A probe's `key: value` lines (first one wins) and its `_axis_ask` answers by key."""
    rcs: dict[str, int] = {}
    keyed: list[tuple[str, str]] = []
    for line in lines:
        key, sep, value = line.partition(": ")
        if not sep:
            continue
        if key.endswith(".rc") and _STATUS.fullmatch(value.strip()):
            rcs.setdefault(key[:-3], int(value))
        else:
            keyed.append((key, value))
    plain: dict[str, str] = {}
    said: dict[str, list[str]] = {}
    errors: dict[str, list[str]] = {}
    for key, value in keyed:
        if key in rcs:
            said.setdefault(key, []).append(value)
        elif key.endswith(".err") and key[:-4] in rcs:
            errors.setdefault(key[:-4], []).append(value)
        else:
            plain.setdefault(key.strip(), value.strip())
    return plain, {key: Answer(rc, tuple(said.get(key, ())), tuple(errors.get(key, ()))) for key, rc in rcs.items()}


def tri_state(read: str, path: str) -> str:
    """A probe that runs `read` (a command on "$p", `path`): its output and exit 0 when it
    succeeds; when it fails, exit ABSENT_EXIT if the host says there is no such file, else 1
    with the host's words (read's own error, e.g. "Permission denied")."""
    return (f"LC_ALL=C; export LC_ALL; {ENOENT_FN}p={shlex.quote(path)}; {read} && exit 0; "
            f'_axis_enoent "$p" && exit {ABSENT_EXIT}; exit 1')


def file_probe(path: str, limit: int | None = None) -> Probe:
    """A probe printing the file's bytes as a hex dump (POSIX `od`: Linux, macOS, busybox), at
    most `limit` bytes. Hex, because the script's output is decoded as UTF-8 and split into
    lines on the way: Latin-1 bytes, CR, form feeds would not survive it as text."""
    count = f" -N {int(limit)}" if limit is not None else ""
    return Probe(tri_state(f'od -A n -t x1 -v{count} -- "$p"', path), as_root=True, path=path)


def mode_probe(path: str) -> Probe:
    """A probe printing a file's permission bits in octal (GNU stat; Linux drivers only)."""
    return Probe(tri_state('stat -c %a -- "$p"', path), as_root=True)


def read_file(section: Section | None) -> FileRead:
    """Decode a file probe's answer (see `file_probe`)."""
    if section is None:
        return FileRead("unreadable", reason="the probe did not run")
    if section.rc == ABSENT_EXIT:
        return FileRead("absent")
    if not section.ok:
        return FileRead("unreadable", reason=section.reason())
    try:
        return FileRead("present", bytes.fromhex("".join(section.lines)))
    except ValueError:
        return FileRead("unreadable", reason="the probe printed something other than a hex dump")


def file_bytes(sections: Mapping[str, Section], name: str, path: str) -> bytes | None:
    """The file's exact bytes, None when the host says it does not exist; raises `Unreadable`."""
    read = read_file(sections.get(name))
    if read.kind == "unreadable":
        raise Unreadable(path, read.reason)
    return read.data if read.kind == "present" else None


def probe_lines(sections: Mapping[str, Section], name: str, what: str) -> list[str]:
    """The output lines of a probe that must succeed (it exits 0 whatever it finds); raises
    `Unreadable` when it failed or its output was cut off."""
    section = sections.get(name)
    if section is None:
        raise Unreadable(what, "the probe did not run")
    if not section.ok:
        raise Unreadable(what, section.reason())
    return section.lines


def file_mode(sections: Mapping[str, Section], name: str, path: str) -> int | None:
    """A `mode_probe`'s permission bits, None when the file does not exist; raises `Unreadable`."""
    section = sections.get(name)
    what = f"the mode of {path}"
    if section is None:
        raise Unreadable(what, "the probe did not run")
    if section.rc == ABSENT_EXIT:
        return None
    if not section.ok:
        raise Unreadable(what, section.reason())
    text = "".join(section.lines).strip()
    try:
        return int(text, 8)
    except ValueError:
        raise Unreadable(what, f"stat printed {text!r}") from None


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
