"""Events (the append-only log) as every front end shows them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from axis.app.documents import EventList, EventView
from axis.app.timefmt import iso
from axis.specs import API_VERSION
from axis.state.snapshot import EventRow

if TYPE_CHECKING:
    from axis.state.tables import Event


def event_view(event: EventRow | Event) -> EventView:
    return {"time": iso(event.time), "type": event.type, "object": f"{event.kind}/{event.name}",
            "reason": event.reason, "message": event.message}


def event_list_view(items: list[EventView]) -> EventList:
    """The `EventList` document around event views (`get events -o json`, `GET /events`)."""
    return {"apiVersion": API_VERSION, "kind": "EventList", "items": items}
