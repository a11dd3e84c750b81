"""Rendering for humans (rich tables) and machines (`-o json|yaml`), kept apart from the commands."""

from __future__ import annotations

import io
import json
import sys
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from axis.specs.text import visible

if TYPE_CHECKING:  # rich and ruamel are imported where used: `-o json` needs neither
    from rich.console import Console
    from rich.table import Table


class Format(StrEnum):
    table = "table"
    wide = "wide"
    json = "json"
    yaml = "yaml"


def console(stderr: bool = False) -> Console:
    """A console that never wraps table rows when piped (kubectl-style plain columns)."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    tty = stream.isatty()
    return Console(file=stream, width=None if tty else 400, highlight=False, soft_wrap=not tty,
                   emoji=False, markup=False)


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    """A plain table; every cell's controls and bidi overrides escaped (`axis.specs.text`): the
    cells hold what specs, hosts and their facts said, and none may drive the terminal."""
    from rich.table import Table

    t = Table(box=None, show_edge=False, pad_edge=False, header_style="bold", padding=(0, 3, 0, 0))
    for header in headers:
        t.add_column(header, no_wrap=True, overflow="fold")
    for row in rows:
        t.add_row(*("-" if v is None or v == "" else visible(str(v)) for v in row))
    return t


def print_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    console().print(table(headers, rows))


def dump(data: Any, fmt: Format) -> str:
    if fmt == Format.json:
        return json.dumps(data, indent=2, sort_keys=False, ensure_ascii=False)
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    # ruamel initialises this to None (untyped) and reads it as a bool.
    yaml.sort_base_mapping_type_on_output = False  # type: ignore[assignment]
    buf = io.StringIO()
    yaml.dump(data, buf)
    return buf.getvalue().rstrip("\n")


def emit(data: Any, fmt: Format) -> None:
    print(dump(data, fmt))


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    try:
        return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):  # beyond year 9999 (a lease stored before ttl was bounded)
        return "9999-12-31T23:59:59Z" if ts > 0 else "0001-01-01T00:00:00Z"


def age(ts: float | None, now: float | None = None) -> str:
    """kubectl-style age: 45s, 12m, 3h, 5d."""
    if ts is None:
        return "-"
    delta = max(0, int((now if now is not None else time.time()) - ts))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if delta >= size:
            return f"{delta // size}{unit}"
    return f"{delta}s"
