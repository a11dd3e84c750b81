"""Rendering for humans (rich tables) and machines (`-o json|yaml`), kept apart from the commands."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterable, Sequence
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
    # A StrEnum (a Kind) is its string in every document, as json.dumps writes it.
    yaml.representer.add_multi_representer(StrEnum, lambda r, value: r.represent_str(str(value)))
    buf = io.StringIO()
    yaml.dump(data, buf)
    return buf.getvalue().rstrip("\n")


def emit(data: Any, fmt: Format) -> None:
    print(dump(data, fmt))


def indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


def indented_table(headers: list[str], rows: Sequence[Sequence[object]]) -> str:
    """A table indented under a `describe` section title."""
    out = console()
    with out.capture() as cap:
        out.print(table(headers, rows))
    return indent(cap.get().rstrip("\n"))


def stream(name: str, text: str) -> None:
    """Pass a host command's output through as it arrives ("stdout" | "stderr" chunks), unaltered."""
    out = sys.stdout if name == "stdout" else sys.stderr
    out.write(text)
    out.flush()
