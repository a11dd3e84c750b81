"""`axis get controller` and `axis describe controller`: the controller's health for people (the
document is `axis.app.controller_health`'s); `axis get controllers`: the controllers sharing the
state DB (`axis.app.controller_members`)."""

from __future__ import annotations

import time
from collections.abc import Iterable

import typer

from axis.app.context import AppError
from axis.app.documents import ConditionView
from axis.app.queries import controller, controllers
from axis.app.timefmt import age, parse_iso
from axis.cli.context import app_context
from axis.cli.output import Format, console, emit, indented_table, print_table
from axis.state.object_kinds import CONTROLLER_NAME
from axis.specs.text import visible


def conditions_table(conditions: Iterable[ConditionView], now: float) -> str:
    """Conditions as `describe` shows them, a row each, SINCE their last flip."""
    return indented_table(["TYPE", "STATUS", "REASON", "SINCE", "MESSAGE"], [
        [c["type"], c["status"], c["reason"], age(parse_iso(c["lastTransitionTime"]), now), c["message"]]
        for c in conditions])


def show_controller(ctx: typer.Context, name: str | None, output: Format, *, detailed: bool) -> None:
    """`get controller` (whether one runs, its conditions) and `describe controller` (and its
    recent events)."""
    if name not in (None, CONTROLLER_NAME):
        raise AppError(f"there is one controller per state DB, named {CONTROLLER_NAME!r}: not {name!r}")
    view = controller(app_context(ctx).db())
    if output in (Format.json, Format.yaml):
        emit(view, output)
        return
    status = view["status"]
    running, conditions, events = status["running"], status["conditions"], status["events"]
    now = time.time()
    running_line = "no"
    if running is not None:
        since = running["since"]
        running_line = f"pid {visible(running['pid'])}, since " + (
            "unknown" if since is None else f"{since} ({age(parse_iso(since), now)} ago)")
    console().print(f"{'Running:':<14}{running_line}")
    if not conditions:
        typer.echo("No controller has recorded its health in this state DB (run `axis controller --watch DIR` "
                   "or `axis serve --watch DIR`).", err=True)
    sections = [("Conditions:", conditions)] if conditions else []
    if "lastRecorded" in status:
        sections.append(("Last recorded (by a controller no longer running):", status["lastRecorded"]))
    for title, shown in sections:
        console().print(title)
        console().print(conditions_table(shown, now))
    if detailed:
        console().print("Events:")
        console().print(indented_table(["TYPE", "REASON", "AGE", "MESSAGE"],
                                      [[e["type"], e["reason"], age(parse_iso(e["time"]), now), e["message"]]
                                       for e in events])
                        if events else "  <none>")


def show_controllers(ctx: typer.Context, name: str | None, output: Format) -> None:
    """`get controllers [NAME]`: each controller, how many hosts it holds, whether it leads, the age
    of its last heartbeat and its state (Live, Stale or Stopped)."""
    view = controllers(app_context(ctx).db())
    items = [c for c in view["items"] if name in (None, c["name"])]
    if name is not None and not items:
        raise AppError(f"no controller named {name!r} in this state DB (`axis get controllers` lists them)")
    if output in (Format.json, Format.yaml):
        emit(items[0] if name else view, output)
        return
    if not items:
        typer.echo("No controller has run on this state DB yet.", err=True)
        return
    now = time.time()
    print_table(["NAME", "MACHINE", "PID", "HOSTS", "LEADER", "HEARTBEAT", "STATE"],
                [[c["name"], c["machine"], c["pid"], len(c["hosts"]), "yes" if c["leader"] else "",
                  age(parse_iso(c["heartbeat"]), now) + " ago", c["state"]] for c in items])
