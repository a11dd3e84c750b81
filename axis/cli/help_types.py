"""The type column of `axis … --help`, as a user reads it: typer 0.29's rich help prints a type
for every parameter, so flags (which take no value) showed `<bool>` and repeatable options and
variadic arguments showed the Python annotation (`<list[str]>`, `<list[Path]>`). Here a flag shows
no type and a repeated parameter the type of one value (`<str>`, `<path>`; the help text or the
argument's `...` says it repeats), in every command's help, the plain (non-rich) one included.

`display_type` is typer's, not click's, and not a public API: pyproject pins typer to 0.29.x, and
a typer without it keeps its own help rather than every command failing at import."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from typer.core import TyperArgument, TyperOption


def _shown_as(original: Callable[[Any, Any], str]) -> Callable[[Any, Any], str]:
    """`original` (one class's display_type), but none for a flag and one value's for a repeated one."""
    def display_type(param: TyperArgument | TyperOption, ctx: Any) -> str:
        if isinstance(param, TyperOption) and (param.is_flag or param.count):
            return ""
        shown = original(param, ctx)
        if shown.startswith("<list[") and shown.endswith("]>"):
            return f"<{shown[len('<list['):-len(']>')].lower()}>"
        return shown
    return display_type


def use_value_types() -> None:
    """Make typer's help show the types above; called once, when `axis.cli.main` is imported.
    A class without `display_type` (another typer) is left as it is."""
    for cls in (TyperOption, TyperArgument):
        original = getattr(cls, "display_type", None)
        if callable(original):
            cls.display_type = _shown_as(original)  # type: ignore[method-assign,assignment]
