"""The read-only documents, each from one short read of the state DB: what the HTTP API and the
MCP tools serve, and what `axis status`, `axis get leases|controller` print.

Each is built by the very view code behind `axis get … -o json`, `axis status --cached -o json`
and `axis place -o json`, so a script reading the API and a person reading the CLI see the same
objects; the API adds nothing of its own but event ids (for `?after=`) and a host's full facts.
Every function is synchronous and opens its own short read transaction: callers on an event loop
run it in a worker thread. The objects', leases' and events' documents are read through plain
DB-API (`axis.state.snapshot`) from an `AppContext` (the command line: no SQLAlchemy) or a
`Database` (the servers: its pooled connections); the controller's and the sources' through the ORM.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from axis.app.claims import lease_list_view, lease_view
from axis.app.context import NotFound
from axis.app.documents import (
    ClusterStatus,
    ControllerHealth,
    EventList,
    EventView,
    LeaseList,
    LeaseView,
    ObjectList,
    ObjectView,
    Observation,
)
from axis.app.events import event_list_view, event_view
from axis.app.objects import list_view, object_views
from axis.app.observed import cluster_totals, observed_view
from axis.specs import Host, Kind
from axis.state.dbapi import SnapshotSource
from axis.state.snapshot import Snapshot
from axis.state.stored_specs import valid

if TYPE_CHECKING:  # the controller's and the sources' documents still read through the ORM
    from axis.app.controller_members import ControllerList
    from axis.app.placement_document import PlacementDocument
    from axis.app.sources import SourceDocument, SourceList
    from axis.state.db import Database


def find_objects(source: SnapshotSource, kind: Kind, name: str | None = None,
                 labels: Callable[[dict[str, str]], bool] | None = None) -> list[ObjectView]:
    """The objects of `kind` (the one called `name`, those whose labels `labels` accepts) as
    `axis get` shows them; NotFound when a name was asked for and nothing matched."""
    with source.snapshot() as snap:
        return _views(snap, kind, name, labels)


def object_list(source: SnapshotSource, kind: Kind) -> ObjectList:
    """Every Host or Claim, as `axis get hosts|claims -o json` prints them."""
    return list_view(find_objects(source, kind))


def object_one(source: SnapshotSource, kind: Kind, name: str) -> ObjectView:
    """One Host or Claim as `axis get KIND NAME -o json` prints it; a host also carries `facts`,
    its newest observation that had any (None when it was never reached)."""
    with source.snapshot() as snap:
        views = _views(snap, kind, name)
        if kind == Kind.HOST:
            views[0]["facts"] = _observed(snap, name)["facts"]
        return views[0]


def host_facts(source: SnapshotSource, name: str) -> Observation:
    """A host's latest observation: status, reason, when, summary, and the full facts."""
    with source.snapshot() as snap:
        if snap.object(Kind.HOST, name) is None:
            raise NotFound(f"{Kind.HOST} {name!r} not found")
        return _observed(snap, name)


def cluster_status(source: SnapshotSource) -> ClusterStatus:
    """The snapshot `axis status --cached -o json` prints: every host's observation and totals."""
    now = time.time()
    with source.snapshot() as snap:
        hosts = valid(snap.objects(Kind.HOST), Host)
        newest = snap.latest_facts([h.metadata.name for h in hosts])
        rows = [observed_view(snap, h.metadata.name, newest.get(h.metadata.name), now, spec_sudo=h.spec.sudo)
                for h in hosts]
    return {"hosts": rows, "totals": cluster_totals(rows)}


def lease_list(source: SnapshotSource) -> LeaseList:
    """The lease ledger as `axis get leases -o json` prints it (live, and expired but not swept)."""
    return lease_list_view(lease_views(source))


def lease_views(source: SnapshotSource, claim: str | None = None) -> list[LeaseView]:
    """Every lease (or `claim`'s), live or expired but not yet swept, read at one `now`."""
    now = time.time()
    with source.snapshot() as snap:
        return [lease_view(lease, now) for lease in snap.leases() if claim is None or lease.claim == claim]


def event_list(source: SnapshotSource, after: int = 0) -> EventList:
    """Events oldest first, each with its `id`: a client polls with `after` = the last id it saw.
    The log is bounded (`axis.state.events.MAX_EVENTS`), so an unfiltered answer is too."""
    with source.snapshot() as snap:
        items: list[EventView] = [{"id": e.id, **event_view(e)} for e in snap.events(after_id=after)]
    return event_list_view(items)


def controller(db: Database) -> ControllerHealth:
    """Whether a controller runs, its conditions and recent events, as `axis get controller -o json`."""
    from axis.app.controller_health import controller_view
    from axis.state.lock import controller_holder

    with db.read() as session:
        return controller_view(session, controller_holder(db.location))


def controllers(db: Database) -> ControllerList:
    """The controllers sharing the state DB, as `axis get controllers -o json`."""
    from axis.app.controller_members import controllers_view
    from axis.state.controllers import lease_time

    with db.read() as session:
        return controllers_view(session, lease_time(session))  # the clock the leases are on


def source_list(db: Database) -> SourceList:
    """Every git source a controller follows (or followed), as `axis get sources -o json`."""
    from axis.app.sources import source_list_view, source_view
    from axis.state.sources import all_sources

    with db.read() as session:
        return source_list_view([source_view(session, row) for row in all_sources(session)])


def source_one(db: Database, name: str) -> SourceDocument:
    """One git source as `axis get source NAME -o json` prints it; NotFound if there is none."""
    from axis.app.sources import not_found, source_view
    from axis.state.sources import source_row

    with db.read() as session:
        row = source_row(session, name)
        if row is None:
            raise NotFound(not_found(name))
        return source_view(session, row)


def placement(source: SnapshotSource, task: str) -> PlacementDocument:
    """Advisory ranking of the hosts for a task, as `axis place TASK -o json`; takes no lease.
    AppError for a task that is no valid claim task."""
    from axis.app.ranking import rank_task  # the scorer, only for a ranking: reading commands start without it
    return rank_task(source, task, now=time.time()).doc


def _views(snap: Snapshot, kind: Kind, name: str | None,
           labels: Callable[[dict[str, str]], bool] | None = None) -> list[ObjectView]:
    rows = [r for r in snap.objects(kind)
            if (name is None or r.name == name) and (labels is None or labels(r.labels))]
    if name and not rows:
        raise NotFound(f"{kind} {name!r} not found")
    return object_views(snap, kind, rows)


def _observed(snap: Snapshot, name: str) -> Observation:
    row = snap.object(Kind.HOST, name)
    sudo = row is not None and row.spec.get("sudo") is True
    return observed_view(snap, name, snap.latest_facts([name]).get(name), time.time(), spec_sudo=sudo)
