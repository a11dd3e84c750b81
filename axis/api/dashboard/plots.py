"""The plots of a host's page, drawn on the server: load, memory used and disk used over the
stored facts history, as the geometry of an inline SVG (the template draws it; nothing runs in
the browser, and every label passes through the template's escaping)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from axis.app.fleet_overview import Sample
from axis.specs.units import human_size

#: The SVG's coordinate box and the room kept for the axis labels.
WIDTH, HEIGHT = 420, 160
LEFT, RIGHT, TOP, BOTTOM = 54, 10, 10, 24


@dataclass(frozen=True)
class Plot:
    metric: str  # load | memory | disk
    title: str
    points: str  # the polyline's "x,y x,y ..."; empty when there is nothing to draw
    dots: list[tuple[float, float, str]]  # each point with its value as text (its <title>)
    y_top: str  # the label of the top of the scale
    y_mid: str
    x_first: str  # the times of the first and last sample
    x_last: str
    latest: str  # the newest value as text, shown beside the title
    empty: bool

    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = HEIGHT - BOTTOM


def host_plots(samples: Sequence[Sample]) -> list[Plot]:
    """Load (1 min), memory used against total and disk used against size, oldest sample first."""
    mem_total = max((s.memory_total_bytes or 0 for s in samples), default=0)
    disk_total = max((s.disk_size_bytes or 0 for s in samples), default=0)
    return [
        _plot("load", "load (1 min)", [(s.at, s.load1) for s in samples], lambda v: f"{v:.2f}", floor=1.0),
        _plot("memory", "memory used", [(s.at, s.memory_used_bytes) for s in samples], _bytes, ceiling=mem_total),
        _plot("disk", "disk used (/)", [(s.at, s.disk_used_bytes) for s in samples], _bytes, ceiling=disk_total),
    ]


def _bytes(value: float) -> str:
    return human_size(int(value))


def _plot(metric: str, title: str, series: list[tuple[float, float | int | None]], fmt: Callable[[float], str], *,
          floor: float = 0.0, ceiling: float = 0.0) -> Plot:
    """One plot over `series` (time, value; None values are gaps left out); the scale runs from 0
    to `ceiling` (a total: memory, disk) or else to the largest value, at least `floor`."""
    points = [(t, float(v)) for t, v in series if v is not None]
    if not points:
        return Plot(metric, title, "", [], "", "", "", "", "no data", empty=True)
    top = ceiling or max(floor, max(v for _, v in points) * 1.1)
    first, last = points[0][0], points[-1][0]
    span = last - first

    def x(t: float) -> float:
        return round(LEFT + ((t - first) / span if span else 0.5) * (WIDTH - RIGHT - LEFT), 1)

    def y(v: float) -> float:
        return round(HEIGHT - BOTTOM - min(v / top, 1.0) * (HEIGHT - BOTTOM - TOP), 1)

    dots = [(x(t), y(v), f"{_clock(t)} · {fmt(v)}") for t, v in points]
    return Plot(metric, title, " ".join(f"{px},{py}" for px, py, _ in dots), dots, fmt(top), fmt(top / 2),
                _clock(first), _clock(last), fmt(points[-1][1]), empty=False)


def _clock(ts: float) -> str:
    """HH:MM in UTC (the times every document shows are UTC)."""
    return time.strftime("%H:%M", time.gmtime(ts))
