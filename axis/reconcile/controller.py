"""The loop behind `axis controller`: watch the spec directory, reconcile every host level-triggered.

Each host is a work item with its own schedule: a pass observes it, plans, converges and records
(facts, feature status, conditions, events), then the host is due again after `resync` seconds
(so drift such as a managed file deleted by hand is found and repaired) or, after a failure,
after an exponential backoff capped at five minutes. Host passes run concurrently up to `jobs`,
so a slow or dead host never holds up the others. Claims are bound and expired leases swept after
host passes and at least every few seconds.

A spec edit re-applies the whole directory to the DB exactly as `axis apply --prune` would; an
invalid edit is logged with file:line and the last good desired state stays in force. What another
process stores in the DB (`axis apply` run beside the controller hands its hosts over to it, the
HTTP API, `axis delete`) is noticed by a once-a-second look at the objects' change times. Stopping
(`stop` set, e.g. by SIGTERM) starts no new pass and no new step; steps in flight finish.

Every part is supervised (`axis.reconcile.supervisor`): an exception it did not expect is
logged, recorded (Warning event, the part's condition on Controller/controller) and the part
runs again after a capped backoff. The file watcher (`SpecWatcher`) and the spec apply it
triggers (`SpecApply`) are separate parts: the watcher counts as running only once the restarted
file watch is actually watching, and only then re-reads the directory, so no edit is lost and no
"Recovered" is claimed early; a watched path that was deleted is the watcher's failure
(`WatchPathMissing`), never an apply of an empty spec. A watched directory renamed over (a spec
directory swapped in) leaves inotify watching the old, unlinked one: every tick compares the
directory's (st_dev, st_ino) with the one the watch started on and, on a change, the watch is
restarted on the new one at once and re-reads it (`WatchPathReplaced`: a Normal event
`WatchRestarted`, not a failure). A watched single file is watched through its parent directory,
filtered to its name, so an editor's atomic save (write a temp file, rename it over) is an
ordinary change. Only the loop that schedules them cannot
be restarted: if it breaks, `run` raises and the process exits non-zero rather than keep running
with a dead part.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session
from watchfiles import Change as FileChange, DefaultFilter, awatch

from axis.drivers.connector import SshOptions
from axis.placement.ledger import place_claims
from axis.reconcile.converge import converge_host
from axis.reconcile.host_pass import plan_work
from axis.reconcile.observe import claim_tools
from axis.reconcile.record import record_claim_conditions, record_outcome
from axis.reconcile.supervisor import KIND as CONTROLLER_KIND, NAME as CONTROLLER_NAME
from axis.reconcile.supervisor import Part, Supervisor, describe, doubling, restart_delay
from axis.specs import SpecErrors, load_specs
from axis.state import Database
from axis.state.conditions import set_condition
from axis.state.events import record_event
from axis.state.objects import (Change, apply_objects, desired_claims, desired_hosts, get_row, object_versions,
                                objects_fingerprint)

logger = logging.getLogger(__name__)

BACKOFF_BASE = 5.0
BACKOFF_CAP = 300.0
#: Expired leases are swept and pending claims retried at least this often (seconds).
CLAIMS_EVERY = 10.0
#: How often the DB is checked for objects stored by another process (seconds).
POLL_EVERY = 1.0
#: watchfiles: wait for `step` ms of quiet, at most `debounce` ms, so a save storm is one change.
DEBOUNCE_MS, STEP_MS = 1600, 50
#: The file watch also reports every WATCH_TICK_MS without a change: its first report proves it is
#: watching (a restart is "Recovered" only then), and each one checks the watched path still exists.
WATCH_TICK_MS = 1000
#: A watcher that ran this long since its last restart counts as stable: its next crash is
#: restarted after the shortest delay again.
STABLE_AFTER = 60.0


@dataclass
class _Slot:
    due: float
    failures: int = 0
    task: asyncio.Task[None] | None = None
    again: bool = False  # the spec changed while a pass was running: run once more right after


def backoff(failures: int) -> float:
    """A host's retry delay after `failures` failed passes in a row: 5 s doubling to 5 minutes."""
    return doubling(BACKOFF_BASE, BACKOFF_CAP, failures)


class WatchPathMissing(Exception):
    """The watched spec path is gone (deleted or moved): the file watch cannot run, and re-reading
    would store an empty desired state. A failure of the watcher, reported under this reason."""

    reason = "WatchPathMissing"

    def __init__(self, path: Path):
        super().__init__(f"the watched path {path} does not exist (deleted or moved?); "
                         "the last good desired state stays in force")


class WatchPathReplaced(Exception):
    """The watched directory was renamed over: the file watch still on the old directory would
    hear nothing more. Not a failure: the watcher restarts on the new directory at once."""

    def __init__(self, path: Path):
        super().__init__(f"the watched path {path} was replaced (renamed over); watching the new one")


def _identity(path: Path) -> tuple[int, int] | None:
    """(st_dev, st_ino) of `path`, None when it is gone: what a rename over it changes."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


class Controller:
    def __init__(self, db: Database, ssh: SshOptions, watch: Path, *, resync: float = 60.0, jobs: int = 16,
                 log: Callable[[str], None] = print):
        self.db, self.ssh, self.watch = db, ssh, watch
        self.resync, self.jobs, self.log = resync, jobs, log
        self._slots: dict[str, _Slot] = {}
        self._claims_due = 0.0
        self._poll_due = 0.0
        self._versions: dict[tuple[str, str], float] = {}
        self._fingerprint: tuple[int, float] | None = None
        self._wake = asyncio.Event()
        self.supervisor = Supervisor(db)
        self._spec_retry: float | None = None  # when to re-read the specs after an apply that raised
        self._streaks = {part: 0 for part in (Part.SPECS, Part.CLAIMS, Part.STORE_POLL)}

    async def run(self, stop: asyncio.Event) -> list[str]:
        """Reconcile until `stop`; the caller has stored the watched specs once (`load_watched`).

        Returns the parts that were failing when it stopped (empty: all healthy), so that the
        exit status can say so. Raises when the scheduling loop itself broke."""
        self.supervisor.begin()
        gate = asyncio.Semaphore(self.jobs)
        watcher = asyncio.create_task(self._supervise_watcher(stop))
        stopper = asyncio.create_task(self._wake_on(stop))
        broken: BaseException | None = None
        try:
            while not stop.is_set():
                if watcher.done():  # it restarts itself forever: ending means its supervision broke
                    raise RuntimeError(f"the spec watcher's supervisor ended: {_ended(watcher)}")
                now = time.time()
                for name, slot in self._slots.items():
                    if slot.task is None and slot.due <= now:
                        slot.task = asyncio.create_task(self._host_pass(name, slot, gate, stop))
                if self._spec_retry is not None and now >= self._spec_retry:
                    self.load_watched()
                if now >= self._poll_due:
                    self._periodic(Part.STORE_POLL, self._notice_stored)
                if now >= self._claims_due:
                    self._periodic(Part.CLAIMS, self._place_claims)
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._idle_seconds()):
                        await self._wake.wait()
        except Exception as exc:
            broken = exc
            logger.critical("the controller loop failed, exiting: %s", describe(exc))
            logger.debug("traceback", exc_info=exc)
            raise
        finally:
            watcher.cancel()
            stopper.cancel()
            running = [s.task for s in self._slots.values() if s.task is not None]
            if running:
                self._say(f"stopping: waiting for {len(running)} host pass(es) to finish their step in flight")
            await asyncio.gather(*running, watcher, stopper, return_exceptions=True)
            self.supervisor.end(broken)
            if broken is None:
                self._say("stopped")
        return self.supervisor.failing()

    def load_watched(self) -> None:
        """`apply_specs`, supervised: an exception other than a spec error (a loader bug, a DB
        that refuses the write) keeps the last good desired state in force, like a spec error,
        is recorded, and the directory is read again after a backoff, or at once on the next edit.

        A watched path that no longer exists is not read at all (that would be a spec error, or
        an empty desired state): the watcher reports it, and re-reads once the path is back."""
        if not os.path.exists(self.watch):
            self._spec_retry = None
            return
        try:
            self.apply_specs()
        except Exception as exc:
            self._streaks[Part.SPECS] += 1
            delay = restart_delay(self._streaks[Part.SPECS])
            self._spec_retry = time.time() + delay
            self.supervisor.failed(Part.SPECS, exc, attempt=self._streaks[Part.SPECS], retry_in=delay)
            self._wake.set()
        else:
            self._streaks[Part.SPECS], self._spec_retry = 0, None
            self.supervisor.succeeded(Part.SPECS)

    def _periodic(self, part: Part, work: Callable[[], object]) -> None:
        """Run the claims pass or the DB poll; if it raises, record it and try again after a backoff."""
        try:
            work()
        except Exception as exc:
            self._streaks[part] += 1
            delay = restart_delay(self._streaks[part])
            if part is Part.CLAIMS:
                self._claims_due = time.time() + delay
            else:
                self._poll_due = time.time() + delay
            self.supervisor.failed(part, exc, attempt=self._streaks[part], retry_in=delay)
        else:
            self._streaks[part] = 0
            self.supervisor.succeeded(part)

    def apply_specs(self) -> list[Change]:
        """Re-read the whole directory and store it (prune included); keep the last good state on errors."""
        if self._fingerprint is not None:
            self._notice_stored()  # what others stored since the last look, before it is absorbed below
        try:
            loaded = load_specs([self.watch])
        except SpecErrors as exc:
            for error in exc.errors:
                self.log(f"spec error: {error}")
            self.log(f"{len(exc.errors)} error(s); the last good desired state stays in force")
            with self.db.write() as session:
                record_event(session, CONTROLLER_KIND, CONTROLLER_NAME, "SpecInvalid",
                             f"{exc.errors[0]}" + (f" (+{len(exc.errors) - 1} more)" if len(exc.errors) > 1 else ""),
                             type="Warning")
            if self._fingerprint is None:
                self._notice_stored()  # the first load: reconcile what was stored before, the last good state
            return []
        with self.db.write() as session:
            changes = apply_objects(session, loaded, prune=True, apply_sets=[str(self.watch.resolve())])
            names = {h.metadata.name for h in desired_hosts(session)[0]}
            self._versions, self._fingerprint = object_versions(session), objects_fingerprint(session)
        changed = [c for c in changes if c.action != "unchanged"]
        for c in changed:
            self.log(f"{c.kind.lower()}/{c.name} {c.action}")
        self._schedule_changed(names, changed)
        return changed

    def _notice_stored(self) -> None:
        """Schedule the hosts whose objects another process stored or deleted since the last look.

        The first look, when the watched specs could not be loaded at start, takes every stored
        object: the last good desired state is reconciled until the specs load."""
        self._poll_due = time.time() + POLL_EVERY
        first = self._fingerprint is None
        with self.db.read() as session:
            fingerprint = objects_fingerprint(session)
            if fingerprint == self._fingerprint:
                return
            self._fingerprint = fingerprint
            versions = object_versions(session)
        if versions == self._versions:
            return
        changed = [Change(kind, name, "configured" if (kind, name) in self._versions else "created", 0, "state DB")
                   for (kind, name), at in versions.items() if self._versions.get((kind, name)) != at]
        changed += [Change(kind, name, "deleted", 0, "state DB") for kind, name in self._versions.keys() - versions.keys()]
        self._versions = versions
        if first:
            self.log(f"reconciling the {len(versions)} object(s) stored in the state DB until the watched specs load")
        else:
            for c in changed:
                self.log(f"{c.kind.lower()}/{c.name} {c.action} in the state DB by another process")
        self._schedule_changed({name for kind, name in versions if kind == "Host"}, changed)

    def _schedule_changed(self, names: set[str], changed: list[Change]) -> None:
        now = time.time()
        for gone in set(self._slots) - names:
            del self._slots[gone]
            self.supervisor.forget(Part.HOST_PASSES, gone)
        everyone = any(c.kind == "HostProfile" for c in changed)
        touched = {c.name for c in changed if c.kind == "Host"}
        for name in names:
            slot = self._slots.setdefault(name, _Slot(due=now))
            if everyone or name in touched:
                slot.failures, slot.due = 0, now
                slot.again = slot.task is not None
        if any(c.kind == "Claim" for c in changed):
            self._claims_due = 0.0
        self._wake.set()

    async def _host_pass(self, name: str, slot: _Slot, gate: asyncio.Semaphore, stop: asyncio.Event) -> None:
        started = time.time()
        try:
            async with gate:
                if stop.is_set():
                    return
                await self._converge(name, slot, stop)
        except Exception as exc:  # a bug must not kill the loop: record it, back off, go on
            slot.failures += 1
            delay = backoff(slot.failures)
            slot.due = time.time() + delay
            self.supervisor.failed(Part.HOST_PASSES, exc, attempt=slot.failures, retry_in=delay, subject=name,
                                   also=lambda session, message, now: _host_not_ready(session, name, message,
                                                                                      now, started))
        else:
            self.supervisor.succeeded(Part.HOST_PASSES, name)
        finally:
            slot.task = None
            if slot.again:
                slot.again, slot.due = False, time.time()
            self._claims_due = 0.0
            self._wake.set()

    async def _converge(self, name: str, slot: _Slot, stop: asyncio.Event) -> None:
        planned_at = time.time()  # before the read: the pass saw every commit made until then
        with self.db.read() as session:
            hosts, profiles = desired_hosts(session)
            host = next((h for h in hosts if h.metadata.name == name), None)
            if host is None:
                return
            work = plan_work(session, [host], profiles, planned_at=planned_at)[0]
            tools = claim_tools(desired_claims(session))
        outcome = await converge_host(host, work.features, self.ssh, dry_run=False, refused=work.refused,
                                      extra_tools=tools, stop=stop)
        with self.db.write() as session:
            record_outcome(session, outcome, work.features, generation=work.generation,
                           previously_refused=work.refused, now=time.time(), probed=work.planned_at)
        if outcome.status == "failed":
            slot.failures += 1
            delay = backoff(slot.failures)
            slot.due = time.time() + delay
            self.log(f"{name}: failed: {outcome.reason}; retry in {delay:g}s")
            return
        slot.failures, slot.due = 0, time.time() + self.resync
        if outcome.status == "changed":
            self.log(f"{name}: converged ({outcome.steps_run} step(s))")

    def _place_claims(self) -> None:
        now = time.time()
        for outcome in place_claims(self.db, now=now):
            if outcome.phase == "Bound":
                self.log(f"claim/{outcome.claim} bound to {outcome.host}")
        with self.db.write() as session:
            record_claim_conditions(session, now)
        self._claims_due = now + CLAIMS_EVERY

    def _idle_seconds(self) -> float:
        now = time.time()
        due = [s.due for s in self._slots.values() if s.task is None] + [self._claims_due, self._poll_due]
        if self._spec_retry is not None:
            due.append(self._spec_retry)
        return max(0.05, min(1.0, min(due) - now))

    async def _supervise_watcher(self, stop: asyncio.Event) -> None:
        """The spec watcher, restarted whenever it raises (after 1 s, doubling up to a minute;
        from the shortest delay again once it ran STABLE_AFTER seconds). A restart re-reads the
        directory once it is watching again, so an edit made while it was down is not missed.
        A replaced watched path (`WatchPathReplaced`) is restarted at once and is no failure:
        a Normal event, no backoff, the watcher's condition untouched."""
        crashes, relist = 0, False
        while not stop.is_set():
            started = time.monotonic()
            try:
                await self._watch(stop, relist=relist)
                if stop.is_set():
                    return
                raise RuntimeError("the file watcher ended by itself")
            except WatchPathReplaced as exc:
                relist = True
                self.supervisor.restarted(Part.WATCHER, "WatchRestarted", describe(exc, typed=False))
            except Exception as exc:
                crashes = 1 if time.monotonic() - started >= STABLE_AFTER else crashes + 1
                relist = True
                delay = restart_delay(crashes)
                self.supervisor.failed(Part.WATCHER, exc, attempt=crashes, retry_in=delay,
                                       reason=exc.reason if isinstance(exc, WatchPathMissing) else "")
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await stop.wait()

    def _watch_target(self) -> tuple[Path, Callable[[FileChange, str], bool] | None]:
        """What inotify watches: the spec directory itself, or a single spec file's parent
        directory filtered to the file's name (a watch on the file itself would stay on the old
        inode after an atomic save and hear nothing more). A symlinked file is watched where it
        really lives (edits to it happen there); `_watch` restarts when the link points elsewhere."""
        if os.path.isdir(self.watch):
            return self.watch, DefaultFilter()
        target = os.path.realpath(self.watch)
        return Path(target).parent, lambda _change, changed: os.path.realpath(changed) == target

    async def _watch(self, stop: asyncio.Event, *, relist: bool) -> None:
        """Watch the spec path and apply it on every change. The first report of the file watch
        (a change, or WATCH_TICK_MS of quiet) proves it is watching: only then is the watcher
        healthy again and, after a restart (`relist`), the directory re-read. Every report checks
        that the watched directory is still the one the watch started on."""
        self._check_watched()
        target, only = self._watch_target()
        started_on, points_to = _identity(target), os.path.realpath(self.watch)
        watching = False
        async for changes in awatch(target, watch_filter=only, debounce=DEBOUNCE_MS, step=STEP_MS,
                                    stop_event=stop, yield_on_timeout=True, rust_timeout=WATCH_TICK_MS,
                                    recursive=target == self.watch):
            self._check_watched()
            if _identity(target) != started_on or os.path.realpath(self.watch) != points_to:
                raise WatchPathReplaced(target)
            first, watching = not watching, True
            if first:
                self.supervisor.succeeded(Part.WATCHER)
            if changes or (first and relist):
                self.load_watched()  # editors save atomically (delete + add): re-read everything

    def _check_watched(self) -> None:
        if not os.path.exists(self.watch):
            raise WatchPathMissing(self.watch)

    def _say(self, line: str) -> None:
        """`log` where nothing may raise (the loop's shutdown): stdout may be a closed pipe."""
        try:
            self.log(line)
        except Exception as exc:
            logger.error("cannot write the controller's log line: %s", describe(exc))

    async def _wake_on(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._wake.set()


def _host_not_ready(session: Session, name: str, message: str, now: float, started: float) -> None:
    """A host pass that raised leaves the host Ready False (`ControllerError`), stamped with the
    pass's start: `axis get hosts` shows it, and an apply waiting on the pass gets its answer."""
    row = get_row(session, "Host", name)
    if row is None:
        return
    for type, status in (("Converged", None), ("Ready", False)):
        set_condition(session, "Host", name, type, status, "ControllerError", f"the controller's pass: {message}",
                      generation=row.generation, now=now, probed=started)


def _ended(task: asyncio.Task[None]) -> str:
    if task.cancelled():
        return "cancelled"
    error = task.exception()
    return describe(error) if error is not None else "returned"
