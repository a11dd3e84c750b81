"""Supervision of the controller's parts, as a controller manager does it: a part that raises is
logged, recorded and restarted with backoff, never left dead while the process stays up.

The controller is six kinds of work: the file watcher or the git follower (one long-lived task), the spec apply it
triggers, host passes (one task per host and pass), the detached jobs' pass (one task at a time),
the claims pass and the state-DB poll (short periodic calls). Each catches what it expects (spec
errors, unreachable hosts); anything else (a bug, an input the loader chokes on, a state DB that refuses a write) reaches the supervisor, which

- logs one line with the exception's type (this module's logger; the traceback at DEBUG),
- appends a Warning event `InternalError`: on the Host for a host pass, else on the controller,
- sets the part's condition False: `Restarting`, then `CrashLoopBackOff` from the
  CRASH_LOOP-th failure in a row, and the controller's `Ready` False naming the failing parts;
  a failure the part knows and names (a watched path that was deleted) is recorded under that
  reason, in its own words, rather than as an internal error;

while the caller retries the part after `restart_delay(attempt)`. The part's next success sets
its condition True again (a Normal event `Recovered`). A part that restarts for an ordinary
cause (`restarted`: the watched directory renamed over) gets a Normal event and nothing else.
Conditions are written on a change only, so a healthy controller writes nothing per pass;
`lastTransitionTime` moves only on a flip.

Where they live: the generic conditions table, kind `Controller`, name `controller`, one
condition per part plus `Ready`. On SQLite one controller runs per state DB (`ControllerLock`).
On PostgreSQL the controllers sharing the DB share this record: a controller that stops or
crashes while others still run leaves `Ready` to them and says so in an event only (a stop
written over their Ready would read "stopped" while they run). Their part conditions still
overwrite each other's; `axis get controllers` shows each one. When recording itself fails
(the DB is locked or broken) the log line still says what happened.

Reporting never raises: it runs in the parts' except blocks and in the scheduling loop, where an
exception of its own (an exception whose message cannot be printed, a broken DB) would kill the
very task it reports on. `describe` cannot fail, and every public method swallows and logs what
goes wrong inside it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import ParamSpec

from sqlmodel import Session

from axis.specs import Kind
from axis.state import Database
from axis.state.conditions import set_condition
from axis.state.controllers import lease_time, live_names
from axis.state.events import record_event
from axis.state.object_kinds import CONTROLLER_KIND as KIND, CONTROLLER_NAME as NAME
from axis.state.ownership import Fenced

logger = logging.getLogger(__name__)
RESTART_BASE, RESTART_CAP = 1.0, 60.0
#: From this many failures in a row a part is reported as crash-looping rather than restarting.
CRASH_LOOP = 3
_MESSAGE_LIMIT = 300
_NAME_LIMIT = 100
#: Backoffs double up to their cap; the exponent stops here so that a part failing for days
#: (1,024 failures in a row) cannot overflow a float in the except block that computes it.
_MAX_DOUBLINGS = 30


class Part(StrEnum):
    """The controller's supervised parts; each value is the type of its condition."""

    WATCHER = "SpecWatcher"  # the file watcher on the spec path: is it watching?
    SPECS = "SpecApply"  # reading and storing the specs it reports (spec errors are not its failures)
    HOST_PASSES = "HostPasses"
    CLAIMS = "ClaimsPass"
    JOBS = "JobsPass"  # the detached jobs' lease renewals and endings (`axis.reconcile.job_watch`)
    STORE_POLL = "StorePoll"
    SOURCE = "GitSource"  # following a git source: an unexpected failure (a fetch failure is the source's status)


def doubling(base: float, cap: float, attempt: int) -> float:
    """`base`, then doubled per attempt, capped at `cap`: finite for any attempt count."""
    return min(cap, base * 2 ** min(_MAX_DOUBLINGS, max(0, attempt - 1)))


def restart_delay(attempt: int) -> float:
    """Seconds before the `attempt`-th retry of a failed part: 1, 2, 4, ... capped at 60."""
    return doubling(RESTART_BASE, RESTART_CAP, attempt)


def ended(task: asyncio.Task[None]) -> str:
    """How a task that should have run forever ended, in words."""
    if task.cancelled():
        return "cancelled"
    error = task.exception()
    return describe(error) if error is not None else "returned"


def describe(exc: BaseException, *, typed: bool = True) -> str:
    """`Type: message` (`typed=False`: the message alone), one line and bounded (a RecursionError's
    message can be long). Never raises: `str()` of an exception runs arbitrary code and can fail
    (`KeyError(1 << 20000)`: ValueError), then the type name stands alone."""
    try:
        name = _cut(type(exc).__name__, _NAME_LIMIT)
    except Exception:
        name = "exception"
    try:
        text = _cut(" ".join(str(str(exc)[:_MESSAGE_LIMIT * 4]).split()), _MESSAGE_LIMIT)
    except Exception:
        text = "(its message cannot be shown)"
    if not typed:
        return text or name
    return f"{name}: {text}" if text else name


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


_P = ParamSpec("_P")


def _never_raises(method: Callable[_P, None]) -> Callable[_P, None]:
    """Reporting must not take down the part it reports on (module docstring): what goes wrong
    inside `method` is logged and swallowed."""
    @functools.wraps(method)
    def guarded(*args: _P.args, **kwargs: _P.kwargs) -> None:
        try:
            method(*args, **kwargs)
        except Exception as exc:
            try:
                logger.error("cannot report the controller's health (%s): %s", method.__name__, describe(exc))
            except Exception:  # a logging handler that raises: nothing is left to tell
                pass

    return guarded


@dataclass(frozen=True)
class Failure:
    error: str  # describe(exc)
    attempt: int  # failures in a row
    retry_in: float
    reason: str = ""  # a failure the part named (module docstring); "" for an internal error


class Supervisor:
    """Records the health of the controller's parts (see the module docstring)."""

    def __init__(self, db: Database, *, clock: Callable[[], float] = time.time, follows_git: bool = False,
                 member: str = ""):
        """The parts are the directory watcher's, or (`follows_git`) the git follower's instead;
        `member`: this controller's name among those sharing the state DB."""
        self.db, self.clock, self.member = db, clock, member
        skip = Part.WATCHER if follows_git else Part.SOURCE
        self.parts = [part for part in Part if part is not skip]
        # part -> subject -> its latest failure; subject "" for the single parts, a host name
        # for host passes (one host's pass may fail while the others run).
        self._failing: dict[Part, dict[str, Failure]] = {part: {} for part in self.parts}

    @_never_raises
    def begin(self) -> None:
        """Write every part's condition as it stands (True unless it failed already)."""
        self._record(lambda session, now: self._write_conditions(session, now, self.parts))

    @_never_raises
    def failed(self, part: Part, exc: BaseException, *, attempt: int, retry_in: float, subject: str = "",
               also: Callable[[Session, str, float], None] | None = None, reason: str = "") -> None:
        """`part` (for host passes: its pass over host `subject`) raised `exc` unexpectedly; the
        caller retries in `retry_in` seconds. `also(session, message, now)` writes more in the
        same transaction (the host's own conditions). `reason`: a failure the part knows (e.g.
        `WatchPathMissing`), recorded under that reason with the exception's message alone. A
        leader's write refused by its fence (another controller leads now) is no internal error:
        it is recorded as `Fenced`, and the next tick stops this controller's leader work."""
        if isinstance(exc, Fenced) and not reason:
            reason = "Fenced"
        failure = Failure(describe(exc, typed=not reason), attempt, retry_in, reason)
        where = subject or part.value
        message = (f"{'' if reason else 'internal error: '}{failure.error}; "
                   f"failed {attempt} time(s) in a row, retry in {retry_in:g}s")
        logger.error("%s: %s", where, message, extra={"part": part.value, **({"host": subject} if subject else {}),
                                                      "error": failure.error, "attempt": attempt, "retry_in": retry_in})
        logger.debug("%s: traceback", where, exc_info=exc)
        self._failing[part][subject] = failure

        def write(session: Session, now: float) -> None:
            if subject:
                record_event(session, Kind.HOST, subject, reason or "InternalError", f"controller's host pass: {message}",
                             type="Warning", now=now)
            else:
                record_event(session, KIND, NAME, reason or "InternalError", f"{part.value}: {message}",
                             type="Warning", now=now)
            self._write_conditions(session, now, [part])
            if also is not None:
                also(session, message, now)

        self._record(write)

    @_never_raises
    def succeeded(self, part: Part, subject: str = "") -> None:
        """`part` (host pass: over `subject`) ran to its end; cheap when it was healthy already."""
        failure = self._failing[part].pop(subject, None)
        if failure is None:
            return
        where = subject or part.value
        logger.info("%s: running again after %d failure(s)", where, failure.attempt,
                    extra={"part": part.value, **({"host": subject} if subject else {}), "failures": failure.attempt})

        def write(session: Session, now: float) -> None:
            kind, name = (Kind.HOST, subject) if subject else (KIND, NAME)
            record_event(session, kind, name, "Recovered",
                         f"{part.value}: running again after {failure.attempt} failure(s)", now=now)
            self._write_conditions(session, now, [part])

        self._record(write)

    @_never_raises
    def restarted(self, part: Part, reason: str, message: str) -> None:
        """`part` restarted itself for an ordinary cause (the watched directory was renamed over,
        as a deploy that swaps a spec directory in does): a Normal event, no failure counted, the
        part's condition and `Ready` untouched."""
        logger.info("%s: %s", part.value, message, extra={"part": part.value, "reason": reason})
        self._record(lambda session, now: record_event(session, KIND, NAME, reason, f"{part.value}: {message}",
                                                       now=now))

    @_never_raises
    def forget(self, part: Part, subject: str) -> None:
        """`subject` is gone (a deleted host): its failures no longer count."""
        if self._failing[part].pop(subject, None) is not None:
            self._record(lambda session, now: self._write_conditions(session, now, [part]))

    def failing(self) -> list[str]:
        """One line per part that is failing now, empty when all are healthy."""
        return [f"{part.value}: {self._summary(part)}" for part in self.parts if self._failing[part]]

    @_never_raises
    def end(self, error: BaseException | None = None) -> None:
        """The controller stops (`error`: because its own loop broke): `Ready` says so, unless
        other controllers still run on the state DB (module docstring): then an event only."""
        if error is None:
            reason, text = "Stopped", "stopped" + (f"; failing then: {'; '.join(self.failing())}" if self.failing() else "")
        else:
            reason, text = "Crashed", f"the controller loop itself failed: {describe(error)}"

        def write(session: Session, now: float) -> None:
            others = [name for name in live_names(session, lease_time(session)) if name != self.member]
            if not others:
                set_condition(session, KIND, NAME, "Ready", False, reason, text, generation=0, now=now)
                return
            record_event(session, KIND, NAME, reason, f"controller {self.member}: {text}; "
                         f"{len(others)} other controller(s) run on", type="Warning" if error else "Normal", now=now)

        self._record(write)

    def _summary(self, part: Part) -> str:
        failures = self._failing[part]
        shown = [f"{subject + ': ' if subject else ''}{f.error} ({f.attempt} in a row, retry in {f.retry_in:g}s)"
                 for subject, f in sorted(failures.items())[:3]]
        more = f"; +{len(failures) - 3} more host(s)" if len(failures) > 3 else ""
        return "; ".join(shown) + more

    def _write_conditions(self, session: Session, now: float, parts: list[Part]) -> None:
        for part in parts:
            failures = self._failing[part]
            if not failures:
                set_condition(session, KIND, NAME, part.value, True, "Running", "", generation=0, now=now)
                continue
            looping = max(f.attempt for f in failures.values()) >= CRASH_LOOP
            named = next((f.reason for f in failures.values() if f.reason), "")
            set_condition(session, KIND, NAME, part.value, False,
                          named or ("CrashLoopBackOff" if looping else "Restarting"),
                          self._summary(part), generation=0, now=now)
        failing = [part.value for part in self.parts if self._failing[part]]
        set_condition(session, KIND, NAME, "Ready", not failing, "PartsFailing" if failing else "Running",
                      f"failing: {', '.join(failing)}" if failing else "", generation=0, now=now)

    def _record(self, write: Callable[[Session, float], object]) -> None:
        """Write in one transaction; a failure to record is logged, never raised: the part's
        retry must not depend on a state DB that may be the very thing failing."""
        try:
            with self.db.write() as session:
                write(session, self.clock())
        except Exception as exc:
            logger.error("cannot record the controller's health in the state DB: %s", describe(exc))
