"""What a followed git source writes about itself: its three conditions, its events, and its
attempts, each a short write transaction of its own (the follower never holds the DB while git runs).

The conditions are Flux's: `Ready` (the newest revision is applied and its hosts converged),
`Stalled` (only a new commit can help: the newest one has a spec error or no valid signature)
and `Reconciling` (a revision is being applied, or its hosts are converging). Each write says all
three, so a reader never sees a combination no state of the follower has; lastTransitionTime
moves only on a flip (`set_condition`). Events are written when the Ready reason changes, so a
remote that stays down for a day is one FetchFailed event, not one per retry.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from axis.state import Database
from axis.state.conditions import conditions_of, set_condition
from axis.state.events import record_event
from axis.state.object_kinds import SOURCE_KIND
from axis.state.sources import begin_attempt, end_attempt

#: Ready reasons that stall the source until a new commit: the last good revision stays in force.
STALLING = frozenset({"SpecInvalid", "VerificationFailed"})
#: Ready reasons that are warnings (event type Warning).
WARNINGS = STALLING | {"FetchFailed", "HostsFailed"}


@dataclass(frozen=True)
class SourceState:
    """One consistent reading of the source: Ready's status, reason and message, and whether it
    is still reconciling. Stalled follows from the reason, except that a FetchFailed keeps the
    stall it found (the newest known commit is still the broken one)."""

    ready: bool | None
    reason: str
    message: str
    reconciling: bool = False


class SourceRecorder:
    """Writes one source's status rows; every method is one short transaction."""

    def __init__(self, db: Database, name: str):
        self.db, self.name = db, name

    def state(self, state: SourceState, *, now: float | None = None) -> None:
        """Set Ready, Stalled and Reconciling from `state`; an event when Ready's reason changes."""
        now = time.time() if now is None else now
        with self.db.write() as session:
            current = {c.type: c for c in conditions_of(session, SOURCE_KIND, self.name)}
            ready = current.get("Ready")
            was = None if ready is None else (ready.reason, ready.message)  # set_condition updates the row
            if state.reason == "FetchFailed":
                stalled = current.get("Stalled")
                is_stalled = stalled is not None and stalled.status == "True"
                stall_reason, stall_message = ((stalled.reason, stalled.message) if is_stalled and stalled
                                               else ("FetchFailed", "retrying with backoff"))
            else:
                is_stalled = state.reason in STALLING
                stall_reason, stall_message = (state.reason, state.message) if is_stalled else (state.reason, "")
            set_condition(session, SOURCE_KIND, self.name, "Ready", state.ready, state.reason, state.message,
                          generation=0, now=now)
            set_condition(session, SOURCE_KIND, self.name, "Stalled", is_stalled, stall_reason, stall_message,
                          generation=0, now=now)
            set_condition(session, SOURCE_KIND, self.name, "Reconciling", state.reconciling,
                          "Progressing" if state.reconciling else state.reason,
                          state.message if state.reconciling else "", generation=0, now=now)
            if was is None or was[0] != state.reason or (state.reason == "Succeeded" and was[1] != state.message):
                record_event(session, SOURCE_KIND, self.name, state.reason, state.message, now=now,
                             type="Warning" if state.reason in WARNINGS else "Normal")

    def begin(self, revision: str, note: str = "") -> int:
        with self.db.write() as session:
            return begin_attempt(session, self.name, revision, time.time(), note=note)

    def end(self, attempt: int, result: str, message: str = "", *, changed: int = 0, failed: int = 0) -> None:
        with self.db.write() as session:
            end_attempt(session, attempt, result, message, changed=changed, failed=failed, now=time.time())

