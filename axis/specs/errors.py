"""Spec errors that name the file, line, object and field, and are collected, not thrown one by one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from axis.specs.text import visible

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails


@dataclass(frozen=True)
class SpecError:
    """One problem in the user's specs, printed as `path:line: kind/name: field: message`."""

    path: str
    line: int
    message: str
    kind: str | None = None
    name: str | None = None
    field: str | None = None

    def __str__(self) -> str:
        parts = [f"{self.path}:{self.line}"]
        if (self.kind and self.kind.strip()) or (self.name and self.name.strip()):
            parts.append(f"{_label(self.kind)}/{_label(self.name)}")
        if self.field:
            parts.append(self.field)
        parts.append(self.message)
        # one error, one line: a message quoting YAML's own multi-line text must not break that,
        # and a part quoting a huge value (a 5,000-character label) is cut in the middle
        # controls, DEL, C1 and bidi overrides left in the line (quoted from a spec) are shown
        # as `\x1b`, `\u202e`: an error line never rewrites or reorders the terminal printing it
        return visible(" ".join(": ".join(_short(p) for p in parts).splitlines()).replace("\t", "\\x09"))


def _label(value: str | None) -> str:
    """A kind or name as the user wrote it, or `?` when blank: `Host/web`, `?/web`."""
    return value.strip() or "?" if value else "?"


def _short(part: str, limit: int = 240) -> str:
    return part if len(part) <= limit else f"{part[:limit - 80]}…({len(part) - limit + 20} characters)…{part[-60:]}"


class SpecErrors(Exception):
    """Every error found in one load; nothing from that load may be stored."""

    def __init__(self, errors: list[SpecError]):
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


def field_path(loc: Sequence[Any]) -> str:
    """A pydantic error location as a spec field path: `spec.features.swapfile.size`, `tools[0]`."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def problem_text(err: ErrorDetails) -> str:
    """A pydantic error in the words spec errors use ("unknown field", no "Value error, ")."""
    kind = err["type"]
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "required field missing"
    msg = str(err["msg"])
    return msg.removeprefix("Value error, ")


