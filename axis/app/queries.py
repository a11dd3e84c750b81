"""The read-only documents, each from one short read of the state DB: what the HTTP API and the
MCP tools serve, and what `axis status`, `axis get leases|controller` print.

Each is built by the very view code behind `axis get … -o json`, `axis status --cached -o json`
and `axis place -o json`, so a script reading the API and a person reading the CLI see the same
objects; the API adds nothing of its own but event ids (for `?after=`) and a host's full facts.
Every function is synchronous and opens its own short read transaction: callers on an event loop
run it in a worker thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlmodel import Session

from axis.app.claims import lease_list_view, lease_view
from axis.app.context import NotFound
from axis.app.controller_health import controller_view
from axis.app.controller_members import ControllerList, controllers_view
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
from axis.app.placement_document import PlacementDocument
from axis.app.sources import SourceDocument, SourceList, not_found, source_list_view, source_view
from axis.specs import Kind
from axis.state import Database, leases
from axis.state.controllers import lease_time
from axis.state.events import list_events
from axis.state.facts import latest
from axis.state.lock import controller_holder
from axis.state.objects import desired_hosts, get_row, list_rows
from axis.state.sources import all_sources, source_row


def find_objects(db: Database, kind: Kind, name: str | None = None,
                 labels: Callable[[dict[str, str]], bool] | None = None) -> list[ObjectView]:
    """The objects of `kind` (the one called `name`, those whose labels `labels` accepts) as
    `axis get` shows them; NotFound when a name was asked for and nothing matched."""
    with db.read() as session:
        return _views(session, kind, name, labels)


def object_list(db: Database, kind: Kind) -> ObjectList:
    """Every Host or Claim, as `axis get hosts|claims -o json` prints them."""
    return list_view(find_objects(db, kind))


def object_one(db: Database, kind: Kind, name: str) -> ObjectView:
    """One Host or Claim as `axis get KIND NAME -o json` prints it; a host also carries `facts`,
    its newest observation that had any (None when it was never reached)."""
    with db.read() as session:
        views = _views(session, kind, name)
        if kind == Kind.HOST:
            views[0]["facts"] = _observed(session, name)["facts"]
        return views[0]


def host_facts(db: Database, name: str) -> Observation:
    """A host's latest observation: status, reason, when, summary, and the full facts."""
    with db.read() as session:
        if get_row(session, Kind.HOST, name) is None:
            raise NotFound(f"{Kind.HOST} {name!r} not found")
        return _observed(session, name)


def cluster_status(db: Database) -> ClusterStatus:
    """The snapshot `axis status --cached -o json` prints: every host's observation and totals."""
    now = time.time()
    with db.read() as session:
        hosts, _ = desired_hosts(session)
        newest = latest(session, [h.metadata.name for h in hosts])
        rows = [observed_view(session, h.metadata.name, newest.get(h.metadata.name), now, spec_sudo=h.spec.sudo)
                for h in hosts]
    return {"hosts": rows, "totals": cluster_totals(rows)}


def lease_list(db: Database) -> LeaseList:
    """The lease ledger as `axis get leases -o json` prints it (live, and expired but not swept)."""
    return lease_list_view(lease_views(db))


def lease_views(db: Database, claim: str | None = None) -> list[LeaseView]:
    """Every lease (or `claim`'s), live or expired but not yet swept, read at one `now`."""
    now = time.time()
    with db.read() as session:
        return [lease_view(lease, now) for lease in leases.all_leases(session) if claim is None or lease.claim == claim]


def event_list(db: Database, after: int = 0) -> EventList:
    """Events oldest first, each with its `id`: a client polls with `after` = the last id it saw.
    The log is bounded (`axis.state.events.MAX_EVENTS`), so an unfiltered answer is too."""
    with db.read() as session:
        items: list[EventView] = [{"id": e.id, **event_view(e)} for e in list_events(session, after_id=after)
                                  if e.id is not None]  # always: a stored event has its id
    return event_list_view(items)


def controller(db: Database) -> ControllerHealth:
    """Whether a controller runs, its conditions and recent events, as `axis get controller -o json`."""
    with db.read() as session:
        return controller_view(session, controller_holder(db.location))


def controllers(db: Database) -> ControllerList:
    """The controllers sharing the state DB, as `axis get controllers -o json`."""
    with db.read() as session:
        return controllers_view(session, lease_time(session))  # the clock the leases are on


def source_list(db: Database) -> SourceList:
    """Every git source a controller follows (or followed), as `axis get sources -o json`."""
    with db.read() as session:
        return source_list_view([source_view(session, row) for row in all_sources(session)])


def source_one(db: Database, name: str) -> SourceDocument:
    """One git source as `axis get source NAME -o json` prints it; NotFound if there is none."""
    with db.read() as session:
        row = source_row(session, name)
        if row is None:
            raise NotFound(not_found(name))
        return source_view(session, row)


def placement(db: Database, task: str) -> PlacementDocument:
    """Advisory ranking of the hosts for a task, as `axis place TASK -o json`; takes no lease.
    AppError for a task that is no valid claim task."""
    from axis.app.operations import rank_task  # the scorer, only for a ranking: reading commands start without it
    return rank_task(db, task, now=time.time()).doc


def _views(session: Session, kind: Kind, name: str | None,
           labels: Callable[[dict[str, str]], bool] | None = None) -> list[ObjectView]:
    rows = [r for r in list_rows(session, kind)
            if (name is None or r.name == name) and (labels is None or labels(r.labels))]
    if name and not rows:
        raise NotFound(f"{kind} {name!r} not found")
    return object_views(session, kind, rows)


def _observed(session: Session, name: str) -> Observation:
    row = get_row(session, Kind.HOST, name)
    sudo = row is not None and row.spec.get("sudo") is True
    return observed_view(session, name, latest(session, [name]).get(name), time.time(), spec_sudo=sudo)
