"""Rendering for humans (rich tables) and machines (`-o json|yaml`), kept apart from the commands."""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
import textwrap
from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from axis.specs.text import visible

if TYPE_CHECKING:  # rich and ruamel are imported where used: `-o json` needs neither
    from rich.console import Console
    from rich.table import Table


#: Spaces between a table's columns.
COLUMN_GAP = 3
#: The narrowest a wrapped last column (describe's MESSAGE) gets; where the other columns leave
#: less, the table runs wide instead: rich would otherwise cut them and squeeze the message out.
MESSAGE_MIN_WIDTH = 26


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


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, wrap_last: bool = False) -> Table:
    """A plain table; every cell's controls and bidi overrides escaped (`axis.specs.text`): the
    cells hold what specs, hosts and their facts said, and none may drive the terminal. With
    `wrap_last`, the last column (a message) wraps inside its column to fit the console's width."""
    from rich.table import Table

    t = Table(box=None, show_edge=False, pad_edge=False, header_style="bold", padding=(0, COLUMN_GAP, 0, 0))
    for i, header in enumerate(headers):
        last = wrap_last and i == len(headers) - 1
        t.add_column(header, no_wrap=not last, overflow="fold", min_width=MESSAGE_MIN_WIDTH if last else None)
    for row in rows:
        t.add_row(*_cells(row))
    return t


def _cells(row: Sequence[Any]) -> list[str]:
    return ["-" if v is None or v == "" else visible(str(v)) for v in row]


def print_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    console().print(table(headers, rows))


def dump(data: Any, fmt: Format, *, width: int | None = None) -> str:
    """`data` as JSON or YAML; `width`: where YAML folds long lines (describe's terminal)."""
    if fmt == Format.json:
        return json.dumps(data, indent=2, sort_keys=False, ensure_ascii=False)
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    if width is not None:
        yaml.width = width
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


def describe_width() -> int | None:
    """The width `describe`'s lines wrap to: the terminal's (shutil.get_terminal_size, which
    honours COLUMNS); None, no wrapping, when stdout is no terminal and COLUMNS names no width,
    so that piped output keeps a line per field and per row, as tables do."""
    if not sys.stdout.isatty() and not os.environ.get("COLUMNS", "").isdigit():
        return None
    return shutil.get_terminal_size().columns


def field_line(label: str, value: object, indent_by: int = 0) -> str:
    """`Label:       value` as `describe` prints it, a long value wrapped to the terminal with
    its continuation lines under the value's first character."""
    first = " " * indent_by + f"{label:<{14 - indent_by}}"
    text = visible(str(value))
    width = describe_width()
    if width is None or len(first) + len(text) <= width:
        return first + text
    return textwrap.fill(text, width, initial_indent=first, subsequent_indent=" " * len(first),
                         break_on_hyphens=False)


def indented_table(headers: list[str], rows: Sequence[Sequence[object]]) -> str:
    """A table indented under a `describe` section title; its last column (the message) wraps
    so that the table fits the terminal (`describe_width`), unless the other columns leave it
    less than `MESSAGE_MIN_WIDTH`: then each row is one line, however wide. Captured without colour: the text is
    printed again through a console that would count escape codes as characters and spill a
    full-width row onto a second line."""
    from rich.console import Console

    from rich.cells import cell_len

    width = describe_width()
    if width is not None:  # the columns before the message, at their full width, leave it room?
        texts = [headers, *(_cells(row) for row in rows)]
        fixed = sum(max(cell_len(str(r[i])) for r in texts) + COLUMN_GAP for i in range(len(headers) - 1))
        if fixed + MESSAGE_MIN_WIDTH > width - 2:
            width = None  # no: one line per row, as piped, rather than cut cells
    out = Console(file=sys.stdout, width=400 if width is None else max(width - 2, 20), soft_wrap=width is None,
                  color_system=None, highlight=False, emoji=False, markup=False)
    with out.capture() as cap:
        out.print(table(headers, rows, wrap_last=width is not None))
    return indent(cap.get().rstrip("\n"))


def stream(name: str, text: str) -> None:
    """Pass a host command's output through as it arrives ("stdout" | "stderr" chunks), unaltered."""
    out = sys.stdout if name == "stdout" else sys.stderr
    out.write(text)
    out.flush()
