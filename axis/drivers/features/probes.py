"""Shell probes a driver sends, and reading what they printed: file bytes, modes, tool answers.

A failed read is never "absent". Every file probe answers one of three ways: present (its exact
bytes), absent (the host said "No such file or directory": exit status ABSENT_EXIT), or
unreadable (any other failure, with the host's words); the readers here raise `Unreadable`
for the last, and for a probe that did not run or was cut off.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from axis.drivers.facts.sections import Section
from axis.drivers.features.base import Probe, Unreadable

#: The exit status of a file probe when the host said there is no such file. Nothing else in a
#: probe exits with it (`od`, `stat` and sudo fail with 1, the shell with 126/127), so the
#: tri-state travels in the exit status and never in output that host data could imitate.
ABSENT_EXIT = 3

#: Why a probe's state is unknown when its section is missing from the script's output.
NOT_RUN = "the probe did not run"


@dataclass(frozen=True)
class FileRead:
    """One file as a probe saw it: present (with its exact bytes), absent, or unreadable."""

    kind: Literal["present", "absent", "unreadable"]
    data: bytes = b""
    reason: str = ""   # for unreadable: the host's words


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
        return FileRead("unreadable", reason=NOT_RUN)
    if section.rc == ABSENT_EXIT:
        return FileRead("absent")
    if not section.ok:
        return FileRead("unreadable", reason=section.reason())
    try:
        return FileRead("present", bytes.fromhex("".join(section.lines)))
    except ValueError:
        return FileRead("unreadable", reason="the probe printed something other than a hex dump")


def _section(sections: Mapping[str, Section], name: str, what: str) -> Section:
    """The probe's section; raises `Unreadable` (about `what`) when the probe did not run."""
    section = sections.get(name)
    if section is None:
        raise Unreadable(what, NOT_RUN)
    return section


def file_bytes(sections: Mapping[str, Section], name: str, path: str) -> bytes | None:
    """The file's exact bytes, None when the host says it does not exist; raises `Unreadable`."""
    read = read_file(_section(sections, name, path))
    if read.kind == "unreadable":
        raise Unreadable(path, read.reason)
    return read.data if read.kind == "present" else None


def probe_lines(sections: Mapping[str, Section], name: str, what: str) -> list[str]:
    """The output lines of a probe that must succeed (it exits 0 whatever it finds); raises
    `Unreadable` when it failed or its output was cut off."""
    section = _section(sections, name, what)
    if not section.ok:
        raise Unreadable(what, section.reason())
    return section.lines


def file_mode(sections: Mapping[str, Section], name: str, path: str) -> int | None:
    """A `mode_probe`'s permission bits, None when the file does not exist; raises `Unreadable`."""
    what = f"the mode of {path}"
    section = _section(sections, name, what)
    if section.rc == ABSENT_EXIT:
        return None
    if not section.ok:
        raise Unreadable(what, section.reason())
    text = "".join(section.lines).strip()
    try:
        return int(text, 8)
    except ValueError:
        raise Unreadable(what, f"stat printed {text!r}") from None
