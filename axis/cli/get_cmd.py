"""`axis get` and `axis delete`: list desired objects, leases, events, git sources and the
controller's health; remove a desired object. The documents are `axis.app`'s; here they become tables."""

from __future__ import annotations

import sys
import time
from typing import Any

import typer

from axis.app.context import AppContext, AppError
from axis.app.documents import ObjectStatus, ObjectView
from axis.app.claims import lease_list_view
from axis.app.events import event_list_view, event_view
from axis.app.objects import list_view
from axis.app.queries import find_objects, lease_views
from axis.app.timefmt import age, iso
from axis.cli.completion import object_names, resource_words
from axis.cli.claims_view import claim_table, lease_table
from axis.cli.context import app_context
from axis.cli.controller_show import show_controller, show_controllers
from axis.cli.kinds import CONTROLLER, CONTROLLERS, DELETE, EVENT, GET, LEASE, SOURCE, resolve_kind
from axis.cli.output import Format, emit, print_table
from axis.cli.selectors import LabelSelector
from axis.specs import Kind
from axis.specs.models import HostSpec
from axis.specs.text import visible
from axis.state.snapshot import EventRow

#: What a host whose spec leaves `fanout` out gets (the stored spec holds what was written).
FANOUT_DEFAULT: bool = HostSpec.model_fields["fanout"].default
#: What a host whose spec leaves `sudo` out gets.
SUDO_DEFAULT: bool = HostSpec.model_fields["sudo"].default


def get(
    ctx: typer.Context,
    resource: str = typer.Argument(..., autocompletion=resource_words,
                                   help="hosts, profiles, claims, leases, events, sources, controller (its "
                                   "health) or controllers (those sharing the state DB)"),
    name: str | None = typer.Argument(None, help="one object by name", autocompletion=object_names),
    output: Format = typer.Option(Format.table, "-o", "--output", help="table, wide, json or yaml"),
    selector: str | None = typer.Option(None, "-l", "--selector", help="label selector, e.g. role=worker,gpu"),
    watch: bool = typer.Option(False, "--watch", "-w", help="events: keep following the log (Ctrl-C stops)"),
) -> None:
    """List objects (or one by name) with their effective state.

    In `get hosts`, SUDO is how privileged steps run there: root (the login is root); no when
    the spec leaves `sudo` out or false (`no (sudo available)`: the host has passwordless sudo
    that the spec does not allow); with `sudo: true`, yes (passwordless sudo), password (sudo
    asks one: axis cannot use it) or no as observed, and yes until the host is observed. FEATURES lists the effective features: `-name` is one set to
    false (axis removes it from the host), `name(state)` one that is not in sync (e.g. refused)."""
    kind = resolve_kind(resource, GET)
    if kind in (LEASE, SOURCE, CONTROLLER, CONTROLLERS):  # the ledger, sources, controllers: not desired objects
        for flag, given in (("-l/--selector", selector is not None), ("-w/--watch", watch)):
            if given:
                raise AppError(f"{flag} does not apply to `axis get {resource.lower()}`")
        if kind == LEASE:
            return get_leases(ctx, name, output)
        if kind == SOURCE:
            from axis.cli.sources_cmd import get_sources
            return get_sources(ctx, name, output)
        if kind == CONTROLLERS:
            return show_controllers(ctx, name, output)
        return show_controller(ctx, name, output, detailed=False)
    labels = _selector(selector)
    if kind == EVENT and watch:
        return _follow_events(app_context(ctx), name)
    if watch:
        raise AppError("--watch follows events only: axis get events --watch")
    if kind == EVENT:
        with app_context(ctx).snapshot() as snap:
            _print_events(snap.events(name=name, limit=None if output != Format.table else 200), output)
        return
    views = find_objects(app_context(ctx), Kind(kind), name, labels.matches)  # the kinds of desired objects
    if output in (Format.json, Format.yaml):
        emit(views[0] if name else list_view(views), output)
        return
    wide = output == Format.wide
    if kind == Kind.HOST and wide:
        headers = ["NAME", "ADDRESS", "STATUS", "AGE", "LOAD", "RAM", "GPU", "DISK", "SUDO", "FANOUT", "DESCRIPTION"]
        body = [[v["metadata"]["name"], _address(v["spec"]), v["status"]["observed"]["status"], v["status"]["observed"]["age"],
                 *(v["status"]["observed"]["summary"].get(k) for k in ("load", "ram", "gpu", "disk")), _sudo(v),
                 _yes(v["spec"].get("fanout", FANOUT_DEFAULT)), v["spec"].get("description")] for v in views]
    elif kind == Kind.HOST:
        headers = ["NAME", "ADDRESS", "STATUS", "SUDO", "FANOUT", "FEATURES", "GEN"]
        body = [[v["metadata"]["name"], _address(v["spec"]), v["status"]["observed"]["status"], _sudo(v),
                 _yes(v["spec"].get("fanout", FANOUT_DEFAULT)), _features(v["status"]), v["metadata"]["generation"]]
                for v in views]
    elif kind == Kind.HOST_PROFILE:
        headers = ["NAME", "SELECTOR", "FEATURES", "HOSTS", "GEN"]
        body = [[v["metadata"]["name"], _match(v["spec"]), ",".join(v["spec"].get("features", {})) or None,
                 ",".join(v["status"]["matchedHosts"]) or "(none)", v["metadata"]["generation"]] for v in views]
    else:
        headers, body = claim_table(views, wide)
    if not body:
        typer.echo(f"No {resource} found.", err=True)
        return
    print_table(headers, body)


def delete(
    ctx: typer.Context,
    resource: str = typer.Argument(..., help="host, profile or claim", autocompletion=resource_words),
    name: str = typer.Argument(..., autocompletion=object_names),
) -> None:
    """Delete one object from the desired state (a claim's lease is released with it)."""
    kind = resolve_kind(resource, DELETE)
    if kind == EVENT:
        raise AppError("events are an append-only log and cannot be deleted")
    from axis.app.operations import delete as remove  # with the ledger and the scorer: `get` starts without them
    remove(app_context(ctx).db(), Kind(kind), name)
    typer.echo(f"{kind.lower()}/{name} deleted")


def _selector(text: str | None) -> LabelSelector:
    try:
        return LabelSelector.parse(text)
    except ValueError as exc:
        raise AppError(str(exc)) from exc


def _print_events(events: list[EventRow], output: Format) -> None:
    if output in (Format.json, Format.yaml):
        emit(event_list_view([event_view(e) for e in events]), output)
        return
    now = time.time()
    print_table(["AGE", "TYPE", "OBJECT", "REASON", "MESSAGE"],
                [[age(e.time, now), e.type, f"{e.kind.lower()}/{e.name}", e.reason, e.message] for e in events])


def _follow_events(app: AppContext, name: str | None, poll: float = 0.5) -> None:
    """Print the recent events, then every new one as it is written (one line each, like kubectl -w)."""
    with app.snapshot() as snap:
        events = snap.events(name=name, limit=20)
    _print_events(events, Format.table)
    last = events[-1].id if events else 0
    db = app.db()  # the polls on the engine's pooled connection, not a new one (and schema check) each
    while True:
        time.sleep(poll)
        with db.snapshot() as snap:
            fresh = snap.events(name=name, after_id=last or 0)
        for e in fresh:
            typer.echo(visible(f"{iso(e.time)}  {e.type:<7}  {e.kind.lower()}/{e.name}  {e.reason}  {e.message}"))
            last = e.id
        sys.stdout.flush()


def _address(spec: dict[str, Any]) -> str:
    user = f"{spec['user']}@" if spec.get("user") else ""
    port = f":{spec['port']}" if spec.get("port") else ""
    return f"{user}{spec['address']}{port}"


def _features(status: ObjectStatus) -> str:
    """`swapfile,earlyoom(refused),-watchdog`: a state is shown when it is not plainly converged."""
    if status.get("invalid"):
        return "(invalid spec: see describe)"
    states = {f["feature"]: f["state"] for f in status.get("features", [])}

    def one(name: str, settings: object) -> str:
        state = states.get(name)
        mark = f"({state})" if state not in (None, "in-sync", "applied") else ""
        return (name if settings is not False else f"-{name}") + mark
    return ",".join(one(n, f["settings"]) for n, f in status["effectiveFeatures"].items()) or "-"


def _sudo(view: ObjectView) -> str:
    """How privileged steps run on the host, the same in `get hosts` and `-o wide`. A root login
    is root (observed); else steps use `sudo -n` only where the spec says `sudo: true`, so a host
    whose spec does not is `no`, even with passwordless sudo (shown as `no (sudo available)`);
    where it does, the observed sudo (yes, password: sudo asks one, no), else, until the host is
    observed, yes."""
    seen = view["status"]["observed"]["summary"].get("sudo")
    if seen == "root":
        return "root"
    if not view["spec"].get("sudo", SUDO_DEFAULT):
        return "no (sudo available)" if seen == "yes" else "no"
    return str(seen) if seen and seen != "-" else "yes"


def _match(spec: dict[str, Any]) -> str:
    labels = spec.get("selector", {}).get("matchLabels", {})
    return ",".join(f"{k}={v}" for k, v in labels.items()) or "(all)"


def _yes(value: object) -> str:
    return "-" if value is None else ("yes" if value else "no")


def get_leases(ctx: typer.Context, name: str | None, output: Format) -> None:
    """`axis get leases [CLAIM]`: every lease, live or expired but not yet swept."""
    views = lease_views(app_context(ctx), name)
    if name and not views:
        raise AppError(f"claim {name!r} holds no lease")
    if output in (Format.json, Format.yaml):
        emit(views[0] if name else lease_list_view(views), output)
    elif views:
        print_table(*lease_table(views))
    else:
        typer.echo("No leases found.", err=True)
