"""Events (the append-only log) as every front end shows them."""

from __future__ import annotations

from typing import Any

from axis.app.timefmt import iso
from axis.specs import API_VERSION
from axis.state.tables import Event


def event_view(event: Event) -> dict[str, Any]:
    return {"time": iso(event.time), "type": event.type, "object": f"{event.kind}/{event.name}",
            "reason": event.reason, "message": event.message}


def event_list_view(items: list[dict[str, Any]]) -> dict[str, Any]:
    """The `EventList` document around event views (`get events -o json`, `GET /events`)."""
    return {"apiVersion": API_VERSION, "kind": "EventList", "items": items}
