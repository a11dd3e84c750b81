"""The type column of `axis … --help`, as a user reads it: typer 0.29's rich help prints a type
for every parameter, so flags (which take no value) showed `<bool>` and repeatable options and
variadic arguments showed the Python annotation (`<list[str]>`, `<list[Path]>`). Here a flag shows
no type and a repeated parameter the type of one value (`<str>`, `<path>`; the help text or the
argument's `...` says it repeats), in every command's help, the plain (non-rich) one included."""

from __future__ import annotations

from typing import Any

from typer.core import TyperArgument, TyperOption

_typer_display_type = TyperOption.display_type


def _display_type(param: TyperArgument | TyperOption, ctx: Any) -> str:
    """The type a user types for `param`: none for a flag, one value's for a repeated one."""
    if isinstance(param, TyperOption) and (param.is_flag or param.count):
        return ""
    shown = _typer_display_type(param, ctx)
    if shown.startswith("<list[") and shown.endswith("]>"):
        return f"<{shown[len('<list['):-len(']>')].lower()}>"
    return shown


def use_value_types() -> None:
    """Make typer's help show the types above; idempotent (the app is rebuilt per `register`)."""
    TyperOption.display_type = _display_type  # type: ignore[method-assign,assignment]
    TyperArgument.display_type = _display_type  # type: ignore[method-assign,assignment]
