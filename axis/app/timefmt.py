"""Times as every document and table shows them: ISO 8601 in UTC, and kubectl-style ages."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import overload


@overload
def iso(ts: float) -> str: ...


@overload
def iso(ts: float | None) -> str | None: ...


def iso(ts: float | None) -> str | None:
    """ISO 8601 in UTC, `2026-01-02T03:04:05Z`; None for no time."""
    if ts is None:
        return None
    try:
        return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):  # beyond year 9999 (a lease stored before ttl was bounded)
        return "9999-12-31T23:59:59Z" if ts > 0 else "0001-01-01T00:00:00Z"


def age(ts: float | None, now: float | None = None) -> str:
    """kubectl-style age: 45s, 12m, 3h, 5d."""
    if ts is None:
        return "-"
    delta = max(0, int((now if now is not None else time.time()) - ts))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if delta >= size:
            return f"{delta // size}{unit}"
    return f"{delta}s"


def parse_iso(stamp: str) -> float:
    """The epoch seconds of an `iso` stamp (documents carry times as text)."""
    return datetime.fromisoformat(stamp).timestamp()
