"""The controllers sharing one state DB as every front end shows them (`axis get controllers`,
`GET /controllers`, the MCP tool): each process, whether it is live, whether it leads, and the
hosts it holds now. (`axis get controller`, singular, is the health its supervisor records.)"""

from __future__ import annotations

from typing_extensions import TypedDict

from sqlmodel import Session

from axis.app.timefmt import iso
from axis.specs import API_VERSION
from axis.state.controllers import members, state_of
from axis.state.ownership import holders, leader


class ControllerMember(TypedDict):
    """One `axis controller` process sharing the state DB (`axis get controllers`)."""

    name: str
    machine: str
    pid: int
    started: str
    heartbeat: str
    leaseSeconds: float
    state: str  # Live | Stale (no heartbeat within its lease: dead or paused) | Stopped
    leader: bool  # applies the specs, binds claims and follows jobs
    hosts: list[str]


class ControllerList(TypedDict):
    """`axis get controllers -o json`, `GET /controllers`."""

    apiVersion: str
    kind: str
    items: list[ControllerMember]


def controllers_view(session: Session, now: float) -> ControllerList:
    """Every registered controller, by name, with the hosts whose unexpired ownership it holds."""
    hosts: dict[str, list[str]] = {}
    for host, row in sorted(holders(session, now).items()):
        hosts.setdefault(row.holder, []).append(host)
    leading = leader(session, now)
    items: list[ControllerMember] = [
        {"name": m.name, "machine": m.machine, "pid": m.pid, "started": iso(m.started), "heartbeat": iso(m.heartbeat),
         "leaseSeconds": m.lease_seconds, "state": state_of(m, now), "leader": m.name == leading,
         "hosts": hosts.get(m.name, [])}
        for m in members(session)]
    return {"apiVersion": API_VERSION, "kind": "ControllerList", "items": items}
