"""The fleet at a glance and one host in depth, for the dashboard of `axis serve`: the same
documents `axis get hosts|claims|leases|sources|events` and `describe host` show, read together.

The fleet's objects, leases and events come from one snapshot (plain DB-API: the light read path),
so a page never shows a claim bound to a lease that the same page does not list; the git sources
are read through the ORM, as `axis get sources` reads them. Synchronous: a server runs these in a
worker thread.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from axis.app.claims import lease_view
from axis.app.context import NotFound
from axis.app.documents import ConditionView, EventView, LeaseView, ObjectView
from axis.app.events import event_view
from axis.app.objects import object_views
from axis.app.queries import source_list
from axis.app.observed import load_facts, observed_view
from axis.placement.candidates import lease_cap, memory_capacity
from axis.specs import Kind
from axis.state.phases import BOUND, RUNNING
from axis.state.snapshot import FactsRow, Snapshot

if TYPE_CHECKING:
    from axis.app.documents import Observation
    from axis.app.sources import SourceDocument
    from axis.state.db import Database

#: Events the fleet page lists (newest first) and a host's page lists.
FLEET_EVENTS = 50
HOST_EVENTS = 20


@dataclass(frozen=True)
class HostCapacity:
    """A host's lease ledger against its memory: what live leases hold and what they may hold
    (total memory of its newest facts minus the placement headroom; None when never observed)."""

    host: str
    leased_bytes: int
    allocatable_bytes: int | None


@dataclass(frozen=True)
class FleetSummary:
    hosts: int
    ready: int
    reachable: int
    claims: int
    bound: int  # claims holding a live lease (Bound or Running)


@dataclass(frozen=True)
class FleetOverview:
    summary: FleetSummary
    hosts: list[ObjectView]
    claims: list[ObjectView]
    leases: list[LeaseView]
    capacity: list[HostCapacity]
    sources: list[SourceDocument]
    events: list[EventView]  # newest first, with ids


@dataclass(frozen=True)
class Sample:
    """One stored observation that carried numbers: the points of a host's plots."""

    at: float
    load1: float | None
    memory_used_bytes: int | None
    memory_total_bytes: int | None
    disk_used_bytes: int | None
    disk_size_bytes: int | None


@dataclass(frozen=True)
class Pass:
    """One stored observation as a host's page lists it: when, how it ended and why."""

    at: float
    status: str
    reason: str


@dataclass(frozen=True)
class HostDetail:
    host: ObjectView
    observation: Observation
    samples: list[Sample]  # oldest first
    passes: list[Pass]  # newest first
    leases: list[LeaseView]
    capacity: HostCapacity
    events: list[EventView]  # newest first


def fleet_overview(db: Database) -> FleetOverview:
    """Everything the fleet page shows, from one snapshot (and the sources' own read, through
    the ORM as `axis get sources` reads them)."""
    now = time.time()
    with db.snapshot() as snap:
        hosts = object_views(snap, Kind.HOST, snap.objects(Kind.HOST))
        claims = object_views(snap, Kind.CLAIM, snap.objects(Kind.CLAIM))
        leases = [lease_view(lease, now) for lease in snap.leases()]
        names = [h["metadata"]["name"] for h in hosts]
        capacity = _capacity(snap, names, now)
        events: list[EventView] = [{"id": e.id, **event_view(e)} for e in reversed(snap.events(limit=FLEET_EVENTS))]
    summary = FleetSummary(
        hosts=len(hosts),
        ready=sum(1 for h in hosts if _status(h, "Ready") == "True"),
        reachable=sum(1 for h in hosts if _status(h, "Reachable") == "True"),
        claims=len(claims),
        bound=sum(1 for c in claims if c.get("status", {}).get("phase") in (BOUND, RUNNING)))
    return FleetOverview(summary, hosts, claims, leases, capacity, source_list(db)["items"], events)


def host_detail(db: Database, name: str) -> HostDetail:
    """Everything a host's page shows; NotFound for a host that is not in the desired state."""
    now = time.time()
    with db.snapshot() as snap:
        row = snap.object(Kind.HOST, name)
        if row is None:
            raise NotFound(f"{Kind.HOST} {name!r} not found")
        view = object_views(snap, Kind.HOST, [row])[0]
        history = snap.facts_history(name)
        observation = observed_view(snap, name, history[-1] if history else None, now,
                                    spec_sudo=row.spec.get("sudo") is True)
        leases = [lease_view(lease, now) for lease in snap.leases() if lease.host == name]
        capacity = _capacity(snap, [name], now)[0]
        events: list[EventView] = [{"id": e.id, **event_view(e)}
                                   for e in reversed(snap.events(kind=Kind.HOST, name=name, limit=HOST_EVENTS))]
    return HostDetail(view, observation, [s for s in map(_sample, history) if s is not None],
                      [Pass(r.collected_at, r.status, r.reason) for r in reversed(history)], leases, capacity, events)


def _capacity(snap: Snapshot, names: list[str], now: float) -> list[HostCapacity]:
    """Each host's leased memory (live leases) against its allocatable memory, by its newest
    facts that carried numbers (an unreachable host keeps the capacity it was last seen with)."""
    leased = snap.leased_by_host(now)
    totals = snap.memory_totals(names)
    return [HostCapacity(name, leased.get(name, 0),
                         lease_cap(memory_capacity(*totals[name])) if name in totals else None)
            for name in names]


def _sample(record: FactsRow) -> Sample | None:
    facts = load_facts(record.data)
    if facts is None:
        return None
    mem, disk = facts.memory, facts.root_disk
    return Sample(at=record.collected_at, load1=facts.load.load1 if facts.load else None,
                  memory_used_bytes=mem.total_bytes - mem.available_bytes if mem else None,
                  memory_total_bytes=mem.total_bytes if mem else None,
                  disk_used_bytes=disk.used_bytes if disk else None,
                  disk_size_bytes=disk.size_bytes if disk else None)


def condition_of(view: ObjectView, kind: str) -> ConditionView | None:
    """The object's condition `kind`, or None when no pass has set it yet."""
    return next((c for c in view.get("status", {}).get("conditions", []) if c["type"] == kind), None)


def _status(view: ObjectView, kind: str) -> str | None:
    found = condition_of(view, kind)
    return found["status"] if found else None
