"""A progress line for long fan-outs, on stderr and only when it is a terminal."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def fleet_progress(total: int, label: str, *, threshold: int = 4) -> Iterator[Callable[[], None]]:
    """Yield a `tick()` to call once per finished host; silent when piped or for few hosts."""
    if total < threshold or not sys.stderr.isatty():
        yield lambda: None
        return
    from rich.console import Console  # only for a terminal: piped runs never import rich
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=Console(file=sys.stderr), transient=True) as progress:
        task = progress.add_task(label, total=total)
        yield lambda: progress.advance(task)
