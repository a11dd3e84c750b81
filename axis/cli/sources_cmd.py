"""Git sources on the command line: `axis get sources`, `axis describe source NAME`, and `axis
suspend|resume source NAME`. The documents are `axis.app.sources`'; here they become tables."""

from __future__ import annotations

import time

import typer

from axis.app.queries import source_list, source_one
from axis.app.sources import SourceDocument, SourceList, short_revision
from axis.app.timefmt import age, parse_iso
from axis.cli.context import app_context
from axis.cli.controller_show import conditions_table
from axis.cli.kinds import SUSPEND, resolve_kind
from axis.cli.output import Format, console, emit, indented_table, print_table
from axis.specs.text import visible
from axis.specs.units import format_duration
from axis.state.events import list_events
from axis.state.object_kinds import SOURCE_KIND


def get_sources(ctx: typer.Context, name: str | None, output: Format) -> None:
    """`axis get sources [NAME]`: what each source follows and which revision is in force."""
    db = app_context(ctx).db()
    shown: SourceDocument | SourceList
    if name:
        shown = source_one(db, name)
        items = [shown]
    else:
        shown = source_list(db)
        items = shown["items"]
    if output in (Format.json, Format.yaml):
        emit(shown, output)
        return
    if not items:
        typer.echo("No sources found (a controller started with --git records its source).", err=True)
        return
    now = time.time()
    print_table(["NAME", "URL", "REF", "APPLIED", "READY", "SUSPENDED", "AGE"],
                [[s["name"], s["url"], s["ref"], short_revision(s["lastAppliedRevision"]), _ready(s),
                  "yes" if s["suspended"] else "no", age(parse_iso(s["createdAt"]), now)] for s in items])


def describe_source(ctx: typer.Context, name: str) -> None:
    """`axis describe source NAME`: its configuration, revisions, conditions, history and events."""
    db = app_context(ctx).db()
    doc = source_one(db, name)
    with db.read() as session:
        events = list_events(session, kind=SOURCE_KIND, name=name, limit=20)
    now = time.time()
    applied = doc["lastAppliedRevision"]
    if applied and doc["lastAppliedAt"]:
        applied += f" (at {doc['lastAppliedAt']}, {age(parse_iso(doc['lastAppliedAt']), now)} ago)"
    out = console()
    for label, value in (("Name:", doc["name"]), ("Kind:", SOURCE_KIND), ("URL:", doc["url"]), ("Ref:", doc["ref"]),
                         ("Path:", doc["path"]), ("Interval:", _interval(doc["interval"])),
                         ("Signatures:", "required (--verify-signatures)" if doc["verifySignatures"] else "not checked"),
                         ("Suspended:", "yes" if doc["suspended"] else "no"),
                         ("Attempted:", doc["lastAttemptedRevision"] or "<none>"), ("Applied:", applied or "<none>"),
                         ("Created:", f"{doc['createdAt']} ({age(parse_iso(doc['createdAt']), now)} ago)")):
        out.print(f"{label:<14}{visible(str(value))}")
    if doc["conditions"]:
        out.print("Conditions:")
        out.print(conditions_table(doc["conditions"], now))
    out.print("History:")
    out.print(indented_table(["REVISION", "AGE", "RESULT", "CHANGED", "FAILED", "MESSAGE"], [
        [h["revision"], age(parse_iso(h["time"]), now), h["result"], h["hostsChanged"], h["hostsFailed"],
         "; ".join(part for part in (h["note"], h["message"]) if part)] for h in doc["history"]])
        if doc["history"] else "  <none>")
    out.print("Events:")
    out.print(indented_table(["TYPE", "REASON", "AGE", "MESSAGE"],
                            [[e.type, e.reason, age(e.time, now), e.message] for e in events]) if events else "  <none>")


def suspend(
    ctx: typer.Context,
    resource: str = typer.Argument(..., help="source"),
    name: str = typer.Argument(..., help="the source's name (see `axis get sources`)"),
) -> None:
    """Stop applying a git source's new revisions and repairing its hosts' drift, until resumed."""
    from axis.app.operations import suspend_source  # with the ledger and the scorer: `get` starts without them
    resolve_kind(resource, SUSPEND)
    suspend_source(app_context(ctx).db(), name)
    typer.echo(f"source/{name} suspended")


def resume(
    ctx: typer.Context,
    resource: str = typer.Argument(..., help="source"),
    name: str = typer.Argument(..., help="the source's name (see `axis get sources`)"),
) -> None:
    """Apply a suspended git source's revisions and repair drift again."""
    from axis.app.operations import resume_source
    resolve_kind(resource, SUSPEND)
    resume_source(app_context(ctx).db(), name)
    typer.echo(f"source/{name} resumed")


def _ready(doc: SourceDocument) -> str | None:
    """`True (Succeeded)`, `False (FetchFailed)`; None before the controller set it."""
    ready = next((c for c in doc["conditions"] if c["type"] == "Ready"), None)
    if ready is None:
        return None
    if not ready["reason"]:
        return ready["status"]
    return f"{ready['status']} ({ready['reason']})"


def _interval(seconds: float) -> str:
    """`1m`, `10s`; a fraction of a second as it is (`0.5s`)."""
    return format_duration(int(seconds)) if seconds.is_integer() and seconds >= 1 else f"{seconds:g}s"
