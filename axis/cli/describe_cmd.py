"""`axis describe KIND NAME`: everything about one object, for people."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import typer

from axis.app.context import AppError
from axis.app.documents import JobView
from axis.app.objects import object_views
from axis.app.timefmt import age, parse_iso
from axis.cli.context import app_context
from axis.cli.controller_show import conditions_table, show_controller
from axis.cli.kinds import CONTROLLER, CONTROLLERS, DESCRIBE, EVENT, SOURCE, resolve_kind
from axis.cli.output import Format, console, dump, indent, indented_table
from axis.specs import Kind
from axis.specs.text import visible

if TYPE_CHECKING:
    from rich.console import Console


def describe(
    ctx: typer.Context,
    resource: str = typer.Argument(..., help="host, profile, claim, source or controller"),
    name: str | None = typer.Argument(None, help="the object's name (not needed for the controller)"),
) -> None:
    """Everything about one object: spec, effective features, generation, recent events (for the
    controller: its parts' conditions and its recent events)."""
    kind = resolve_kind(resource, DESCRIBE)
    if kind in (CONTROLLER, CONTROLLERS):  # `describe controllers` as it always was: the health
        return show_controller(ctx, name, Format.table, detailed=True)
    if name is None:
        raise AppError(f"describe {resource} needs a name: axis describe {resource} NAME")
    if kind == EVENT:
        raise AppError("events cannot be described; use `axis get events`")
    if kind == SOURCE:
        from axis.cli.sources_cmd import describe_source
        return describe_source(ctx, name)
    desired = Kind(kind)  # what is left are the kinds of desired objects
    with app_context(ctx).snapshot() as snap:
        row = snap.object(desired, name)
        if row is None:
            raise AppError(f"{kind} {name!r} not found")
        events = snap.events(kind=kind, name=name, limit=20)
        view = object_views(snap, desired, [row])[0]
    out = console()
    meta = view["metadata"]
    now = time.time()
    fields = [("Name:", row.name), ("Kind:", kind),
              ("Labels:", ", ".join(f"{k}={v}" for k, v in meta.get("labels", {}).items()) or "<none>"),
              ("Source:", meta["source"]), ("Generation:", row.generation),
              ("Created:", f"{meta['creationTimestamp']} ({age(row.created_at, now)} ago)")]
    status = view.get("status", {})
    if "revision" in status:  # converged by a git source (`axis controller --git`)
        fields.append(("Revision:", f"{status['revision']} (source {status['revisionSource']}, converged "
                                    f"{age(parse_iso(status['revisionConvergedAt']), now)} ago)"))
    if kind == Kind.HOST:  # which of the controllers sharing the state DB may reconcile it now
        held = status.get("controller")
        fields.append(("Controller:", f"{held['name']} (token {held['token']}, until {held['expires']})" if held
                       else "<none> (no controller holds it now)"))
    for label, value in fields:
        out.print(f"{label:<14}{visible(str(value))}")
    out.print("Spec:")
    out.print(indent(dump(view["spec"], Format.yaml)))
    if view.get("status", {}).get("invalid"):
        out.print(f"{'Invalid:':<14}{view['status']['invalid']}")
    elif kind == Kind.HOST:
        enforcement = view["status"]["observed"]["summary"].get("memoryEnforcement")
        if enforcement:  # how `axis exec` caps a job's memory on this host
            out.print(f"{'Memory cap:':<14}{visible(enforcement)}")
        feats = view["status"]["effectiveFeatures"]
        states = {f["feature"]: f for f in view["status"]["features"]}
        out.print("Effective features:")
        out.print(indented_table(["FEATURE", "SETTINGS", "FROM", "STATE", "MESSAGE"], [
            [n, "remove" if f["settings"] is False else (_flow(f["settings"]) or "{}"), f["from"],
             states[n]["state"] if n in states else "unknown", states[n]["message"] if n in states else ""]
            for n, f in feats.items()]) if feats else "  <none>")
    elif kind == Kind.HOST_PROFILE:
        out.print(f"{'Matches:':<14}{', '.join(view['status']['matchedHosts']) or '<no host>'}")
    elif kind == Kind.CLAIM:
        placed = view["status"]
        for label, value in (("Phase:", placed.get("phase")), ("Host:", placed.get("host")),
                             ("Memory:", placed.get("memory")), ("Expires:", placed.get("expiresIn")),
                             ("Reason:", placed.get("reason"))):
            if value:
                out.print(f"{label:<14}{visible(str(value))}")
        if "job" in placed:
            _show_job(out, placed["job"], now)
    conditions = status.get("conditions", [])
    if conditions:
        out.print("Conditions:")
        out.print(conditions_table(conditions, now))
    out.print("Events:")
    out.print(indented_table(["TYPE", "REASON", "AGE", "MESSAGE"],
                            [[e.type, e.reason, age(e.time, now), e.message] for e in events]) if events else "  <none>")


def _show_job(out: Console, job: JobView, now: float) -> None:
    """The claim's newest detached job: what runs or ran, and how it ended (exit code)."""
    ended = (f"{job['ended']} ({age(parse_iso(job['ended']), now)} ago)" if job["ended"] else None)
    out.print("Job:")
    for label, value in (("Id:", job["id"]), ("Command:", job["command"]), ("State:", job["state"]),
                         ("Exit code:", job["exitCode"]),
                         ("Started:", f"{job['started']} ({age(parse_iso(job['started']), now)} ago)"),
                         ("Ended:", ended), ("Message:", job["message"])):
        if value is not None:
            out.print(f"  {label:<12}{visible(str(value))}")


def _flow(data: dict[str, Any] | None) -> str:
    if not data:
        return ""
    return ", ".join(f"{k}={v}" for k, v in data.items())
