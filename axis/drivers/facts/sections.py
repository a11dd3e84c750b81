"""Split the facts script's output into sections (the wire protocol's parser).

Why a separate layer: every fact parser then sees only its own probe's stdout plus the
exit status and stderr, so a garbled or missing section degrades exactly one fact.
The format is described in ``script.py``. Only a line that is exactly a marker carrying the
run's boundary counts; every other line, however much it looks like a marker (one of another
run, one without a boundary, one in the middle of a line), is the probe's data. Otherwise the
parser is lenient: data outside a section is ignored, a section without an end marker (output
cut off) gets ``rc=None``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .script import SECTION_NAME, marker_prefix

_NAME = rf"({SECTION_NAME})"
_SECTION_RE = re.compile(rf"section:{_NAME}")
_END_RE = re.compile(rf"end:{_NAME} rc=(-?\d{{1,9}})")
_STDERR_RE = re.compile(rf"stderr:{_NAME} (.*)")
_HEADER_RE = re.compile(r"facts v=(\d{1,9}) os=(\S*)")
_DONE = "done"
# "sh: 9: df: not found" (dash) / "sh: line 9: df: command not found" (bash): the
# script's line number is noise that would make reasons differ between runs.
_SHELL_PREFIX_RE = re.compile(r"^[\w./-]*sh: (?:line )?\d+: ")


def split_lines(text: str) -> list[str]:
    r"""``text``'s lines, split at ``"\n"`` only (no final empty line after a final newline).

    Why not ``str.splitlines``: it also splits at CR, VT, FF, \x1c-\x1e, \x85, U+2028 and U+2029,
    which the kernel does not escape in /proc/mounts and ``df`` prints raw, so a mount point
    named ``/m\u2028/dev/nvme9n1 9999999999 0 9999999999 0% /srv/big`` would add a whole forged
    row (a 10 TB disk). A CR stays in its line (no probe output ends lines with CRLF; parsers
    that read a value strip blanks around it anyway).
    """
    parts = text.split("\n")
    return parts[:-1] if parts[-1] == "" else parts


@dataclass
class Section:
    """One probe's result: stdout (exact ``text`` and its ``lines``), stderr lines, exit status.

    ``text`` is the probe's stdout byte for byte as decoded, final newline or not; built by
    hand from ``lines`` alone (tests), it is those lines each ended by a newline.
    """

    name: str
    lines: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    rc: int | None = None  # None: the end marker never arrived
    text: str = ""

    def __post_init__(self) -> None:
        if not self.text and self.lines:
            self.text = "".join(line + "\n" for line in self.lines)

    @property
    def ok(self) -> bool:
        return self.rc == 0

    def reason(self, default: str = "no output") -> str:
        """Why this probe gave nothing useful, in the host's own words when possible."""
        msg = next((s.strip() for s in reversed(self.stderr) if s.strip()), "")
        msg = _SHELL_PREFIX_RE.sub("", msg)
        if self.rc is None:
            status = "output ended before the probe finished"
        elif self.rc == 124:
            status = "timed out"
        elif self.rc == 127 and msg:
            status = ""  # "X not found" already says it all
        elif self.rc != 0:
            status = f"exit {self.rc}"
        else:
            status = ""
        parts = [p for p in (msg, status) if p]
        return (f"{parts[0]} ({parts[1]})" if len(parts) == 2 else parts[0]) if parts else default


@dataclass
class ScriptOutput:
    version: int | None = None
    os_hint: str | None = None
    done: bool = False
    sections: dict[str, Section] = field(default_factory=dict)

    def get(self, name: str) -> Section | None:
        return self.sections.get(name)


class _Splitter:
    """The parser's state: the section whose stdout is being read, and its lines so far."""

    def __init__(self) -> None:
        self.result = ScriptOutput()
        self.current: Section | None = None
        self.stdout: list[str] | None = None  # None once the stdout has ended

    def data(self, line: str) -> None:
        if self.stdout is not None:
            self.stdout.append(line)

    def end_stdout(self) -> None:
        """Close the stdout. Before a stderr/end marker the last line is the one the script
        ended with its own newline, so joining the lines with newlines gives the probe's exact
        stdout; in output cut off mid-section, it gives exactly what arrived."""
        if self.current is None or self.stdout is None:
            return
        text = "\n".join(self.stdout)
        self.current.text = text
        self.current.lines = split_lines(text)
        self.stdout = None

    def marker(self, tag: str) -> bool:
        """Apply one marker (the line after ``@@axis:B:``); False when it is no marker."""
        if m := _SECTION_RE.fullmatch(tag):
            self.end_stdout()
            self.current = Section(name=m.group(1))
            self.result.sections[self.current.name] = self.current
            self.stdout = []
        elif (m := _STDERR_RE.fullmatch(tag)) and (current := self._current_named(m.group(1))):
            self.end_stdout()
            current.stderr.append(m.group(2))
        elif (m := _END_RE.fullmatch(tag)) and (current := self._current_named(m.group(1))):
            self.end_stdout()
            current.rc = int(m.group(2))
            self.current = None
        elif m := _HEADER_RE.fullmatch(tag):
            self.result.version, self.result.os_hint = int(m.group(1)), m.group(2) or None
        elif tag == _DONE:
            self.end_stdout()
            self.current, self.result.done = None, True
        else:
            return False
        return True

    def _current_named(self, name: str) -> Section | None:
        """The open section if it is `name` (a marker for another section is ignored)."""
        return self.current if self.current is not None and self.current.name == name else None


def split_sections(output: str, boundary: str) -> ScriptOutput:
    """Parse raw script output of the run framed with ``boundary`` into named sections.

    Never raises on any ``output``; raises ``ValueError`` on a malformed ``boundary`` (a
    caller's bug: the boundary comes from ``build_script``, never from the host).
    """
    prefix = marker_prefix(boundary) + ":"
    splitter = _Splitter()
    for line in output.split("\n"):
        if not (line.startswith(prefix) and splitter.marker(line[len(prefix):])):
            splitter.data(line)
    splitter.end_stdout()
    return splitter.result
