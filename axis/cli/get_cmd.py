"""`axis get`, `axis describe`, `axis delete`: read and remove desired objects and events.

`get controller` / `describe controller` show the controller's health: whether one runs now (it
holds the controller lock), the conditions the supervisor keeps on Controller/controller (one per
part, plus Ready; without a running controller only as its last record) and its recent events. It
is not a desired object (nothing to apply or delete), so it has its own view.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime
from typing import Any

import typer

from sqlmodel import Session

from axis.cli.claims_cmd import get_leases
from axis.cli.claims_view import add_claim_status, claim_table
from axis.cli.context import CliError, app_context
from axis.cli.facts_view import observed_view
from axis.cli.output import Format, age, console, dump, emit, iso, print_table, table
from axis.cli.selectors import LabelSelector
from axis.cli.views import event_view, list_view, resolve_kind, views_for
from axis.reconcile.supervisor import KIND as CONTROLLER_KIND
from axis.reconcile.supervisor import NAME as CONTROLLER_NAME
from axis.specs import effective_features
from axis.specs.text import visible
from axis.state import Database
from axis.state.conditions import conditions_of
from axis.state.events import list_events
from axis.state.facts import latest
from axis.state.feature_status import feature_status
from axis.state.lock import Holder, controller_holder
from axis.state.objects import delete_object, desired_hosts, get_row, list_rows, to_model
from axis.state.tables import Condition, DesiredObject, Event



def get(
    ctx: typer.Context,
    resource: str = typer.Argument(..., help="hosts, profiles, claims, leases, events or controller"),
    name: str | None = typer.Argument(None, help="one object by name"),
    output: Format = typer.Option(Format.table, "-o", "--output", help="table, wide, json or yaml"),
    selector: str | None = typer.Option(None, "-l", "--selector", help="label selector, e.g. role=worker,gpu"),
    watch: bool = typer.Option(False, "--watch", "-w", help="events: keep following the log (Ctrl-C stops)"),
) -> None:
    """List objects (or one by name) with their effective state."""
    if resource.lower() in ("lease", "leases", "controller", "controllers"):
        for flag, given in (("-l/--selector", selector is not None), ("-w/--watch", watch)):
            if given:
                raise CliError(f"{flag} does not apply to `axis get {resource.lower()}`")
    if resource.lower() in ("lease", "leases"):
        return get_leases(ctx, name, output)
    if resource.lower() in ("controller", "controllers"):
        return _show_controller(ctx, name, output, detailed=False)
    kind = _kind(resource, GET_ACCEPTS)
    labels = _selector(selector)
    if kind == "Event" and watch:
        return _follow_events(app_context(ctx).db(), name)
    if watch:
        raise CliError("--watch follows events only: axis get events --watch")
    with app_context(ctx).db().read() as session:
        if kind == "Event":
            _print_events(list_events(session, name=name, limit=None if output != Format.table else 200), output)
            return
        rows = [r for r in list_rows(session, kind) if (name is None or r.name == name) and labels.matches(r.labels)]
        if name and not rows:
            raise CliError(f"{kind} {name!r} not found")
        views = object_views(session, kind, rows)
    if output in (Format.json, Format.yaml):
        emit(views[0] if name else list_view(views), output)
        return
    wide = output == Format.wide
    if kind == "Host" and wide:
        headers = ["NAME", "ADDRESS", "STATUS", "AGE", "LOAD", "RAM", "GPU", "DISK", "SUDO", "FANOUT", "DESCRIPTION"]
        body = [[v["metadata"]["name"], _address(v["spec"]), v["status"]["observed"]["status"], v["status"]["observed"]["age"],
                 *(v["status"]["observed"]["summary"].get(k) for k in ("load", "ram", "gpu", "disk", "sudo")),
                 _yes(v["spec"].get("fanout", True)), v["spec"].get("description")] for v in views]
    elif kind == "Host":
        headers = ["NAME", "ADDRESS", "STATUS", "SUDO", "FANOUT", "FEATURES", "GEN"]
        body = [[v["metadata"]["name"], _address(v["spec"]), v["status"]["observed"]["status"], _yes(v["spec"].get("sudo")),
                 _yes(v["spec"].get("fanout", True)), _features(v["status"]), v["metadata"]["generation"]]
                for v in views]
    elif kind == "HostProfile":
        headers = ["NAME", "SELECTOR", "FEATURES", "HOSTS", "GEN"]
        body = [[v["metadata"]["name"], _match(v["spec"]), ",".join(v["spec"].get("features", {})) or None,
                 ",".join(v["status"]["matchedHosts"]) or "(none)", v["metadata"]["generation"]] for v in views]
    else:
        headers, body = claim_table(views, wide)
    if not body:
        typer.echo(f"No {resource} found.", err=True)
        return
    print_table(headers, body)


def object_views(session: Session, kind: str, rows: list[DesiredObject]) -> list[dict[str, Any]]:
    """Objects as `get -o json` shows them: spec plus status (observation, conditions, placement)."""
    hosts, profiles = desired_hosts(session)
    views = views_for(kind, rows, hosts, profiles)
    if kind == "Host":
        add_observed(session, views)
    elif kind == "Claim":
        add_claim_status(session, views, rows, time.time())
    add_conditions(session, kind, views)
    return views


def add_observed(session: Session, views: list[dict[str, Any]]) -> None:
    """Put each host's latest observation (facts summary, status, age) under status.observed."""
    now = time.time()
    newest = latest(session, [v["metadata"]["name"] for v in views])
    for view in views:
        name = view["metadata"]["name"]
        observed = observed_view(session, name, newest.get(name), now)
        observed.pop("facts")
        observed.pop("name")
        view["status"]["observed"] = observed
        view["status"]["features"] = [
            {"feature": f.feature, "state": f.state, "reason": f.reason, "message": f.message,
             "observedGeneration": f.observed_generation, "updated": iso(f.updated_at)}
            for f in feature_status(session, name)]


def add_conditions(session: Session, kind: str, views: list[dict[str, Any]]) -> None:
    """status.conditions and status.observedGeneration, Kubernetes-style, where a pass set them."""
    by_name: dict[str, list[Any]] = {}
    for c in conditions_of(session, kind):
        by_name.setdefault(c.name, []).append(c)
    for view in views:
        found = by_name.get(view["metadata"]["name"])
        if not found:
            continue
        status = view.setdefault("status", {})
        status["observedGeneration"] = max(c.observed_generation for c in found)
        status["conditions"] = [condition_view(c) for c in found]


def condition_view(c: Condition) -> dict[str, Any]:
    return {"type": c.type, "status": c.status, "reason": c.reason, "message": c.message,
            "lastTransitionTime": iso(c.last_transition), "lastProbeTime": iso(c.last_probe) if c.last_probe else None,
            "observedGeneration": c.observed_generation}


def controller_view(session: Session, holder: Holder | None, events: int = 20) -> dict[str, Any]:
    """The controller's health as `get controller -o json` and `GET /controller` show it: whether
    a controller runs now (`holder`: who holds the controller lock), its conditions and latest
    events. The conditions are written on a change only and a killed controller never says it
    stopped, so without a holder they are history, not health: `conditions` is then a single
    Ready Unknown (`NotRunning`) and what was stored moves to `lastRecorded`."""
    stored = [condition_view(c) for c in conditions_of(session, CONTROLLER_KIND, CONTROLLER_NAME)]
    recent = [event_view(e) for e in list_events(session, kind=CONTROLLER_KIND, name=CONTROLLER_NAME, limit=events)]
    status: dict[str, Any] = {"running": {"pid": holder.pid, "since": iso(holder.since)} if holder else None}
    if holder is not None or not stored:
        status["conditions"] = stored
    else:
        status["conditions"] = [_not_running(stored, recent)]
        status["lastRecorded"] = stored
    status["events"] = recent
    return {"apiVersion": "axis/v1", "kind": CONTROLLER_KIND, "metadata": {"name": CONTROLLER_NAME}, "status": status}


def _not_running(stored: list[dict[str, Any]], recent: list[dict[str, Any]]) -> dict[str, Any]:
    """Ready Unknown for a state DB whose controller lock nobody holds, saying when the last
    controller last wrote anything and what its Ready said then."""
    stamps = [c["lastTransitionTime"] for c in stored] + [c["lastProbeTime"] for c in stored if c["lastProbeTime"]]
    last = max(stamps + [e["time"] for e in recent], key=_ts)
    ready = next((c for c in stored if c["type"] == "Ready"), None)
    said = f"; its Ready was {ready['status']} ({ready['reason']})" if ready else ""
    return {"type": "Ready", "status": "Unknown", "reason": "NotRunning",
            "message": f"no controller holds the lock on this state DB; last seen {last}{said}",
            "lastTransitionTime": last, "lastProbeTime": None, "observedGeneration": 0}


def _show_controller(ctx: typer.Context, name: str | None, output: Format, *, detailed: bool) -> None:
    """`get controller` (whether one runs, its conditions) and `describe controller` (and its
    recent events)."""
    if name not in (None, CONTROLLER_NAME):
        raise CliError(f"there is one controller per state DB, named {CONTROLLER_NAME!r}: not {name!r}")
    app = app_context(ctx)
    with app.db().read() as session:
        view = controller_view(session, controller_holder(app.state))
    if output in (Format.json, Format.yaml):
        emit(view, output)
        return
    status = view["status"]
    running, conditions, events = status["running"], status["conditions"], status["events"]
    now = time.time()
    console().print(f"{'Running:':<14}" + (f"pid {visible(running['pid'])}, since {running['since']} "
                                           f"({age(_ts(running['since']), now)} ago)" if running else "no"))
    if not conditions:
        typer.echo("No controller has recorded its health in this state DB (run `axis controller --watch DIR` "
                   "or `axis serve --watch DIR`).", err=True)
    sections = [("Conditions:", conditions)] if conditions else []
    if "lastRecorded" in status:
        sections.append(("Last recorded (by a controller no longer running):", status["lastRecorded"]))
    for title, shown in sections:
        rows = [[c["type"], c["status"], c["reason"], age(_ts(c["lastTransitionTime"]), now), c["message"]]
                for c in shown]
        console().print(title)
        console().print(_indent_table(["TYPE", "STATUS", "REASON", "SINCE", "MESSAGE"], rows))
    if detailed:
        console().print("Events:")
        console().print(_indent_table(["TYPE", "REASON", "AGE", "MESSAGE"],
                                      [[e["type"], e["reason"], age(_ts(e["time"]), now), e["message"]]
                                       for e in events])
                        if events else "  <none>")


def describe(
    ctx: typer.Context,
    resource: str = typer.Argument(..., help="host, profile, claim or controller"),
    name: str | None = typer.Argument(None, help="the object's name (not needed for the controller)"),
) -> None:
    """Everything about one object: spec, effective features, generation, recent events (for the
    controller: its parts' conditions and its recent events)."""
    if resource.lower() in ("controller", "controllers"):
        return _show_controller(ctx, name, Format.table, detailed=True)
    kind = _kind(resource, DESCRIBE_ACCEPTS)
    if name is None:
        raise CliError(f"describe {resource} needs a name: axis describe {resource} NAME")
    if kind == "Event":
        raise CliError("events cannot be described; use `axis get events`")
    with app_context(ctx).db().read() as session:
        row = get_row(session, kind, name)
        if row is None:
            raise CliError(f"{kind} {name!r} not found")
        profiles = desired_hosts(session)[1]
        events = list_events(session, kind=kind, name=name, limit=20)
        status_rows = feature_status(session, name) if kind == "Host" else []
        view = object_views(session, kind, [row])[0]
    out = console()
    meta = view["metadata"]
    fields = [("Name:", row.name), ("Kind:", kind),
              ("Labels:", ", ".join(f"{k}={v}" for k, v in meta.get("labels", {}).items()) or "<none>"),
              ("Source:", meta["source"]), ("Generation:", row.generation),
              ("Created:", f"{meta['creationTimestamp']} ({age(row.created_at)} ago)")]
    for label, value in fields:
        out.print(f"{label:<14}{visible(str(value))}")
    out.print("Spec:")
    out.print(_indent(dump(view["spec"], Format.yaml)))
    if view.get("status", {}).get("invalid"):
        out.print(f"{'Invalid:':<14}{view['status']['invalid']}")
    elif kind == "Host":
        feats = effective_features(to_model(row), profiles)  # type: ignore[arg-type]
        states = {f.feature: f for f in status_rows}
        out.print("Effective features:")
        out.print(_indent_table(["FEATURE", "SETTINGS", "FROM", "STATE", "MESSAGE"], [
            [n, "remove" if not f.enabled else (_flow(f.to_data()["settings"]) or "{}"), f.origin,
             states[n].state if n in states else "unknown", states[n].message if n in states else ""]
            for n, f in feats.items()]) if feats else "  <none>")
    elif kind == "HostProfile":
        out.print(f"{'Matches:':<14}{', '.join(view['status']['matchedHosts']) or '<no host>'}")
    elif kind == "Claim":
        placed = view["status"]
        for label, key in (("Phase:", "phase"), ("Host:", "host"), ("Memory:", "memory"),
                           ("Expires:", "expiresIn"), ("Reason:", "reason")):
            if placed.get(key):
                out.print(f"{label:<14}{visible(str(placed[key]))}")
    conditions = view.get("status", {}).get("conditions", [])
    if conditions:
        now_ts = time.time()
        out.print("Conditions:")
        out.print(_indent_table(["TYPE", "STATUS", "REASON", "SINCE", "MESSAGE"], [
            [c["type"], c["status"], c["reason"], age(_ts(c["lastTransitionTime"]), now_ts), c["message"]]
            for c in conditions]))
    out.print("Events:")
    now = time.time()
    out.print(_indent_table(["TYPE", "REASON", "AGE", "MESSAGE"],
                            [[e.type, e.reason, age(e.time, now), e.message] for e in events]) if events else "  <none>")


def delete(
    ctx: typer.Context,
    resource: str = typer.Argument(..., help="host, profile or claim"),
    name: str = typer.Argument(...),
) -> None:
    """Delete one object from the desired state (a claim's lease is released with it)."""
    kind = _kind(resource, OBJECT_ACCEPTS)
    if kind == "Event":
        raise CliError("events are an append-only log and cannot be deleted")
    with app_context(ctx).db().write() as session:
        if delete_object(session, kind, name) is None:
            raise CliError(f"{kind} {name!r} not found")
    typer.echo(f"{kind.lower()}/{name} deleted")


def _ts(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


#: What each command takes, as its error for an unknown word lists it.
GET_ACCEPTS = "hosts, profiles, claims, leases, events or controller"
DESCRIBE_ACCEPTS = "host, profile, claim or controller"
OBJECT_ACCEPTS = "host, profile or claim"


def _kind(resource: str, accepts: str) -> str:
    try:
        return resolve_kind(resource)
    except ValueError:
        raise CliError(f"unknown resource type {resource!r} (use {accepts})") from None


def _selector(text: str | None) -> LabelSelector:
    try:
        return LabelSelector.parse(text)
    except ValueError as exc:
        raise CliError(str(exc)) from exc


def _print_events(events: list[Event], output: Format) -> None:
    if output in (Format.json, Format.yaml):
        emit({"apiVersion": "axis/v1", "kind": "EventList", "items": [event_view(e) for e in events]}, output)
        return
    now = time.time()
    print_table(["AGE", "TYPE", "OBJECT", "REASON", "MESSAGE"],
                [[age(e.time, now), e.type, f"{e.kind.lower()}/{e.name}", e.reason, e.message] for e in events])


def _follow_events(db: Database, name: str | None, poll: float = 0.5) -> None:
    """Print the recent events, then every new one as it is written (one line each, like kubectl -w)."""
    with db.read() as session:
        events = list_events(session, name=name, limit=20)
    _print_events(events, Format.table)
    last = events[-1].id if events else 0
    while True:
        time.sleep(poll)
        with db.read() as session:
            fresh = list_events(session, name=name, after_id=last or 0)
        for e in fresh:
            typer.echo(visible(f"{iso(e.time)}  {e.type:<7}  {e.kind.lower()}/{e.name}  {e.reason}  {e.message}"))
            last = e.id
        sys.stdout.flush()


def _address(spec: dict[str, Any]) -> str:
    user = f"{spec['user']}@" if spec.get("user") else ""
    port = f":{spec['port']}" if spec.get("port") else ""
    return f"{user}{spec['address']}{port}"


def _features(status: dict[str, Any]) -> str:
    """`swapfile,earlyoom(refused),-watchdog`: a state is shown when it is not plainly converged."""
    if status.get("invalid"):
        return "(invalid spec: see describe)"
    states = {f["feature"]: f["state"] for f in status.get("features", [])}

    def one(name: str, settings: object) -> str:
        state = states.get(name)
        mark = f"({state})" if state not in (None, "in-sync", "applied") else ""
        return (name if settings is not False else f"-{name}") + mark
    return ",".join(one(n, f["settings"]) for n, f in status["effectiveFeatures"].items()) or "-"


def _labels(view: dict[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in view["metadata"].get("labels", {}).items())


def _match(spec: dict[str, Any]) -> str:
    labels = spec.get("selector", {}).get("matchLabels", {})
    return ",".join(f"{k}={v}" for k, v in labels.items()) or "(all)"


def _yes(value: object) -> str:
    return "-" if value is None else ("yes" if value else "no")


def _flow(data: object) -> str:
    if not data:
        return ""
    return ", ".join(f"{k}={v}" for k, v in data.items())  # type: ignore[attr-defined]


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


def _indent_table(headers: list[str], rows: list[list[object]]) -> str:
    out = console()
    with out.capture() as cap:
        out.print(table(headers, rows))
    return _indent(cap.get().rstrip("\n"))
