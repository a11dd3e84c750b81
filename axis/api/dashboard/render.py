"""The dashboard's HTML: Jinja2 templates shipped in the package, with autoescaping on for every
template, so host and spec data (a description, a host's error message, a label) are escaped by
construction and can never become markup; and the small helpers the templates format with."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader

from axis import __version__
from axis.app.documents import ConditionView, ObjectView
from axis.app.fleet_overview import condition_of
from axis.app.sources import short_revision
from axis.app.timefmt import iso, parse_iso
from axis.specs.units import human_size

#: The conditions the fleet table shows, in its column order.
HOST_CONDITIONS = ("Ready", "Reachable", "Converged")
#: The static assets by file name, with their content types.
ASSETS = {"dashboard.css": "text/css; charset=utf-8", "dashboard.js": "text/javascript; charset=utf-8",
          "favicon.svg": "image/svg+xml"}


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    version: str  # a hash of the body: the URL's `?v=`, so a new version is never read from a cache


@cache
def assets() -> dict[str, Asset]:
    """The static files, read once from the package."""
    folder = resources.files("axis.api.dashboard") / "static"
    out = {}
    for name, content_type in ASSETS.items():
        body = (folder / name).read_bytes()
        out[name] = Asset(body, content_type, hashlib.sha256(body).hexdigest()[:12])
    return out


@cache
def environment() -> Environment:
    """The templates' environment: autoescape for every template whatever its name (not only
    `.html`)."""
    env = Environment(loader=PackageLoader("axis.api.dashboard", "templates"), autoescape=True,
                      trim_blocks=True, lstrip_blocks=True)
    env.globals.update(version=__version__, asset_url=asset_url, condition=condition, clock=clock, stamp=stamp,
                       features=features, percent=percent, human_size=human_size, short_revision=short_revision)
    return env


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)


def asset_url(name: str) -> str:
    return f"/ui/static/{name}?v={assets()[name].version}"


def condition(view: ObjectView, kind: str) -> ConditionView:
    """The object's condition `kind`, or an Unknown one when no pass has set it yet."""
    found = condition_of(view, kind)
    if found is not None:
        return found
    return {"type": kind, "status": "Unknown", "reason": "NotObserved", "message": "no pass has set it yet",
            "lastTransitionTime": "", "lastProbeTime": None, "observedGeneration": 0}


def features(view: ObjectView) -> list[dict[str, str]]:
    """A host's managed features with the state the last pass recorded (`pending` before any
    pass) and the host's own words when it refused or failed, in the spec's order."""
    status = view.get("status", {})
    states = {f["feature"]: f for f in status.get("features", [])}
    out = []
    for name, effective in status.get("effectiveFeatures", {}).items():
        state = states.get(name)
        out.append({"name": name, "state": state["state"] if state else "pending",
                    "message": state["message"] if state else "not converged yet",
                    "settings": "remove" if effective.get("settings") is False else _flow(effective.get("settings")),
                    "from": str(effective.get("from", ""))})
    return out


def clock(stamp: str | None) -> str:
    """An ISO time from a document as people scan a list: HH:MM:SS today (UTC), else the date too.
    Absolute, never an age: a fragment whose text changed every second would never be a 304."""
    if not stamp:
        return "-"
    try:
        moment = datetime.fromtimestamp(parse_iso(stamp), UTC)
    except ValueError:
        return stamp
    today = datetime.fromtimestamp(time.time(), UTC).date()
    return moment.strftime("%H:%M:%S" if moment.date() == today else "%Y-%m-%d %H:%M")


def stamp(ts: float) -> str:
    """`clock` of epoch seconds."""
    return clock(iso(ts))


def percent(part: int, whole: int | None) -> float:
    """`part` of `whole` in percent, 0 to 100 (a bar's width; 0 when there is no whole)."""
    if not whole:
        return 0.0
    return round(min(100.0, max(0.0, 100.0 * part / whole)), 1)


def _flow(settings: Any) -> str:
    if not isinstance(settings, dict) or not settings:
        return "{}"
    return ", ".join(f"{k}={v}" for k, v in settings.items())
