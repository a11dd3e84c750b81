"""Split the facts script's output into sections (the wire protocol's parser).

Why a separate layer: every fact parser then sees only its own probe's stdout plus the
exit status and stderr, so a garbled or missing section degrades exactly one fact.
The format is described in ``script.py``. This parser is lenient on purpose: markers are
found even mid-line (a probe printed no final newline), unknown markers are ignored, a
section without an end marker (output cut off) gets ``rc=None``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MARKER = "@@axis:"
_SECTION_RE = re.compile(r"^@@axis:section:([A-Za-z0-9_.-]+)\s*$")
_END_RE = re.compile(r"^@@axis:end:([A-Za-z0-9_.-]+)\s+rc=(-?\d+)\s*$")
_STDERR_RE = re.compile(r"^@@axis:stderr:([A-Za-z0-9_.-]+) ?(.*)$")
# "sh: 9: df: not found" (dash) / "sh: line 9: df: command not found" (bash): the
# script's line number is noise that would make reasons differ between runs.
_SHELL_PREFIX_RE = re.compile(r"^[\w./-]*sh: (?:line )?\d+: ")
_HEADER_RE = re.compile(r"^@@axis:facts\s+v=(\d+)(?:\s+os=(\S*))?")


@dataclass
class Section:
    """One probe's result: stdout lines, stderr lines, and its exit status."""

    name: str
    lines: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    rc: int | None = None  # None: the end marker never arrived

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


def _split_markers(line: str) -> list[str]:
    """Split a line at each marker that does not start it (missing final newline)."""
    parts: list[str] = []
    while True:
        idx = line.find(MARKER, 1)
        if idx <= 0:
            parts.append(line)
            return parts
        parts.append(line[:idx])
        line = line[idx:]


def split_sections(output: str) -> ScriptOutput:
    """Parse raw script output into named sections; never raises on any str input."""
    result = ScriptOutput()
    current: Section | None = None
    for raw in output.splitlines():
        for line in _split_markers(raw.rstrip("\r")):
            if not line.startswith(MARKER):
                if current is not None:
                    current.lines.append(line)
                continue
            if m := _SECTION_RE.match(line):
                current = Section(name=m.group(1))
                result.sections[current.name] = current
            elif m := _END_RE.match(line):
                sec = result.sections.get(m.group(1))
                if sec is not None:
                    sec.rc = int(m.group(2))
                current = None
            elif m := _STDERR_RE.match(line):
                sec = result.sections.get(m.group(1))
                if sec is not None:
                    sec.stderr.append(m.group(2))
            elif m := _HEADER_RE.match(line):
                result.version = int(m.group(1))
                result.os_hint = m.group(2) or None
            elif line.strip() == "@@axis:done":
                result.done = True
                current = None
    return result
