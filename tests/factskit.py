"""Facts script output for tests: the golden fixtures, their boundaries, hand-framed sections.

Every run of the facts script has its own random boundary (see axis/drivers/facts/script.py),
and so has every fixture: the one its capture ran with, written in its markers. A test parses a
fixture with that boundary, or re-frames it with the boundary of the script a fake host was
sent, as a real host would have printed it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from axis.drivers.facts import Facts, parse_facts
from axis.drivers.facts.sections import ScriptOutput, split_sections

FIXTURES = Path(__file__).parent / "fixtures" / "facts"
_BOUNDARY_RE = re.compile(r"^@@axis:([0-9a-f]{32}):", re.MULTILINE)
_SCRIPT_BOUNDARY_RE = re.compile(r"^_axis_m='?@@axis:([0-9a-f]{32})'?$", re.MULTILINE)
#: Every fixture with a golden file (NAME.txt and NAME.expected.json), by name.
GOLDEN_NAMES = sorted(p.name[: -len(".expected.json")] for p in FIXTURES.glob("*.expected.json"))
#: HP Z440 `lspci | grep -i nvidia`, verbatim (README: Sources): two boards and their audio functions.
Z440_LSPCI = (
    "02:00.0 VGA compatible controller: NVIDIA Corporation GF119 [NVS 310] (rev a1)",
    "02:00.1 Audio device: NVIDIA Corporation GF119 HDMI Audio Controller (rev a1)",
    "03:00.0 VGA compatible controller: NVIDIA Corporation GM206 [GeForce GTX 960] (rev a1)",
    "03:00.1 Audio device: NVIDIA Corporation GM206 High Definition Audio Controller (rev a1)",
)


def load(name: str) -> str:
    """The text of tests/fixtures/facts/NAME (``.txt`` added when missing)."""
    return (FIXTURES / (name if name.endswith(".txt") else f"{name}.txt")).read_text()


def golden_facts(name: str) -> dict[str, Any]:
    """A full facts document as the facts script reports it: fixture NAME's golden file, what the
    parser must make of NAME.txt."""
    return json.loads((FIXTURES / f"{name}.expected.json").read_text())


def has_boundary(output: str) -> bool:
    """Whether ``output`` holds a marker of some run (is facts script output)."""
    return _BOUNDARY_RE.search(output) is not None


def boundary_of(output: str) -> str:
    """The boundary of the first marker in ``output`` (a fixture's or a captured run's)."""
    m = _BOUNDARY_RE.search(output)
    if m is None:
        raise ValueError("no facts marker in this output")
    return m.group(1)


def script_boundary(script: str) -> str | None:
    """The boundary a facts script text was built with, None when ``script`` is no facts script."""
    m = _SCRIPT_BOUNDARY_RE.search(script)
    return m.group(1) if m else None


def reframe(output: str, boundary: str) -> str:
    """``output`` as the run with ``boundary`` would have printed it."""
    return output.replace(boundary_of(output), boundary)


def parse(output: str, **kwargs) -> Facts:
    """parse_facts with the output's own boundary (for fixtures and outputs built here)."""
    return parse_facts(output, boundary_of(output), **kwargs)


def split(output: str) -> ScriptOutput:
    """split_sections with the output's own boundary."""
    return split_sections(output, boundary_of(output))


def section(boundary: str, name: str, stdout: str, rc: int | None = 0,
            stderr: Iterable[str] = ()) -> str:
    """One section framed as the script prints it: its stdout, the script's newline, then the
    stderr lines and the end marker (none when ``rc`` is None: cut off)."""
    text = f"@@axis:{boundary}:section:{name}\n{stdout}\n"
    text += "".join(f"@@axis:{boundary}:stderr:{name} {line}\n" for line in stderr)
    return text if rc is None else text + f"@@axis:{boundary}:end:{name} rc={rc}\n"


def with_sections(output: str, sections: Iterable[str]) -> str:
    """A complete output with more sections (built by ``section`` with the output's boundary)
    before its ``done`` marker, as feature probes follow the facts."""
    done = f"@@axis:{boundary_of(output)}:done\n"
    if not output.endswith(done):
        raise ValueError("output does not end with its done marker")
    return output[: -len(done)] + "".join(sections) + done
