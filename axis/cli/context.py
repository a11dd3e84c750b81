"""The application context of a command, passed explicitly through typer's context."""

from __future__ import annotations

import typer

from axis.app.context import AppContext
from axis.state import state_location


def app_context(ctx: typer.Context) -> AppContext:
    obj = ctx.find_root().obj
    if not isinstance(obj, AppContext):  # a command invoked without the root callback (tests)
        obj = AppContext(state=state_location())
        ctx.find_root().obj = obj
    return obj
