"""The controller's health as every front end shows it (`get controller`, `describe controller`,
`GET /controller`): whether one runs now, the conditions the supervisor keeps on
Controller/controller (one per part, plus Ready) and its recent events.

It is not a desired object (nothing to apply or delete), so it has its own document.
"""

from __future__ import annotations

from sqlmodel import Session

from axis.app.documents import ConditionView, ControllerHealth, ControllerStatus, EventView, RunningController
from axis.app.events import event_view
from axis.app.objects import condition_view
from axis.app.timefmt import iso, parse_iso
from axis.state.object_kinds import CONTROLLER_KIND, CONTROLLER_NAME
from axis.specs import API_VERSION
from axis.state.conditions import conditions_of
from axis.state.events import list_events
from axis.state.lock import Holder


def controller_view(session: Session, holder: Holder | None, events: int = 20) -> ControllerHealth:
    """The controller's health as `get controller -o json` and `GET /controller` show it: whether
    a controller runs now (`holder`: who holds the controller lock), its conditions and latest
    events. The conditions are written on a change only and a killed controller never says it
    stopped, so without a holder they are history, not health: `conditions` is then a single
    Ready Unknown (`NotRunning`) and what was stored moves to `lastRecorded`."""
    stored = [condition_view(c) for c in conditions_of(session, CONTROLLER_KIND, CONTROLLER_NAME)]
    recent = [event_view(e) for e in list_events(session, kind=CONTROLLER_KIND, name=CONTROLLER_NAME, limit=events)]
    running: RunningController | None = {"pid": holder.pid, "since": iso(holder.since)} if holder else None
    status: ControllerStatus
    if holder is not None or not stored:
        status = {"running": running, "conditions": stored, "events": recent}
    else:
        status = {"running": running, "conditions": [_not_running(stored, recent)], "lastRecorded": stored,
                  "events": recent}
    return {"apiVersion": API_VERSION, "kind": CONTROLLER_KIND, "metadata": {"name": CONTROLLER_NAME}, "status": status}


def _not_running(stored: list[ConditionView], recent: list[EventView]) -> ConditionView:
    """Ready Unknown for a state DB whose controller lock nobody holds, saying when the last
    controller last wrote anything and what its Ready said then."""
    stamps = [c["lastTransitionTime"] for c in stored] + [c["lastProbeTime"] for c in stored if c["lastProbeTime"]]
    last = max(stamps + [e["time"] for e in recent], key=parse_iso)
    ready = next((c for c in stored if c["type"] == "Ready"), None)
    said = f"; its Ready was {ready['status']} ({ready['reason']})" if ready else ""
    return {"type": "Ready", "status": "Unknown", "reason": "NotRunning",
            "message": f"no controller holds the lock on this state DB; last seen {last}{said}",
            "lastTransitionTime": last, "lastProbeTime": None, "observedGeneration": 0}
