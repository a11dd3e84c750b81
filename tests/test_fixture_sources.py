"""The facts fixtures' real sections name their raw sources; those sources are in the repository.

The facts README once sent readers to `real-output/` in the project notes, which the repository
does not hold: a reviewer could not check a "real" section against its source.
"""

from __future__ import annotations

import re
from pathlib import Path

FACTS = Path(__file__).parent / "fixtures" / "facts"
SOURCES = FACTS / "sources"
#: At most this many bytes per source: raw copies of one command's output, not data sets.
MAX_BYTES = 32 * 1024


def _indexed() -> list[str]:
    """The file names in the first column of sources/README.md's table."""
    return re.findall(r"^\| ([\w.-]+\.txt) \|", (SOURCES / "README.md").read_text(), re.M)


def test_the_facts_readme_points_at_sources_in_the_repository():
    readme = (FACTS / "README.md").read_text()
    assert "`sources/`" in readme and "real-output" not in readme


def test_every_indexed_source_is_here_with_its_provenance_header():
    indexed = _indexed()
    assert indexed and sorted(indexed) == sorted(p.name for p in SOURCES.glob("*.txt"))
    for name in indexed:
        data = (SOURCES / name).read_bytes()
        text = data.decode("utf-8")
        assert len(data) <= MAX_BYTES, name
        assert text.startswith("# ") and text.splitlines()[1].startswith("Source: "), name
