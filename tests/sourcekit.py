"""A git source as a controller following a branch leaves it in the state DB: one revision
applied and converged, the next one broken (Stalled, SpecInvalid), and the host it converged.
Shared by the tests of the sources' documents, command line, HTTP API and MCP tool."""

from __future__ import annotations

from axis.state import Database
from axis.state.conditions import set_condition
from axis.state.object_kinds import SOURCE_KIND
from axis.state.sources import (begin_attempt, end_attempt, mark_applied, record_host_revision,
                                upsert_source)

GOOD = "main@sha1:" + "a1b2c3d4e5" * 4
BROKEN = "main@sha1:" + "0f" * 20
URL = "ssh://git@git.example/fleet.git"


def stalled_source(db: Database, now: float, *, name: str = "fleet", host: str | None = "a") -> None:
    """`name` applied GOOD at now-50 (it converged `host`), then met BROKEN at now-10 and stalled."""
    with db.write() as s:
        upsert_source(s, name=name, url=URL, ref="main", path="specs", interval=60.0, verify=True, now=now - 100)
        good = begin_attempt(s, name, GOOD, now - 60)
        mark_applied(s, name, GOOD, now - 50)
        if host is not None:
            record_host_revision(s, host, name, GOOD, now - 40)
        end_attempt(s, good, "Converged", changed=1, now=now - 40)
        broken = begin_attempt(s, name, BROKEN, now - 10, note="force-push: not a descendant of " + GOOD)
        end_attempt(s, broken, "SpecInvalid", "specs/web.yaml:7: spec.port: not a port", now=now - 9)
        set_condition(s, SOURCE_KIND, name, "Ready", False, "SpecInvalid", "specs/web.yaml:7: spec.port: not a port",
                      generation=0, now=now - 9)
        set_condition(s, SOURCE_KIND, name, "Stalled", True, "SpecInvalid", "a new commit is needed",
                      generation=0, now=now - 9)
