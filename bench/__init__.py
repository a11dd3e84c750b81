"""Benchmarks of axis, run by hand as scripts (`python bench/run.py`, `bench/placement.py`,
`bench/rss.py`), not by pytest. A package so that run.py's parts import each other by one
unambiguous name (`bench.timing`, ...) instead of top-level names that could shadow a library's."""

from pathlib import Path

#: The repository root: the scripts put it on sys.path to import `axis`, `tests.sshhosts` and `bench`.
ROOT = Path(__file__).resolve().parent.parent
