"""The loop behind `axis controller`: keep the desired state current, reconcile every host.

Mainly the level-triggered work queue around `host_pass.reconcile_host` (also `axis apply`'s): a `host_slot.Slot`
per host, serial per host, hosts concurrently up to `jobs`, so a slow or dead host never holds up the others. The
pass's `Result` says when a host is due again: after `resync` seconds (drift is repaired) or, after a temporary
error, a backoff of 5 s doubling to 5 minutes. Claims are bound, expired leases swept and detached jobs followed
(`job_watch`) every few seconds. Several controllers may share one state DB (`membership`): each passes only the
hosts it owns, and only the leader applies specs, follows git, binds claims and follows jobs.

What the queue holds: the desired state, a watched spec path re-applied whole on every edit as `axis apply --prune`
would (`apply_pass.store_watched`; an invalid edit is logged with file:line, the last good state stays) or a
followed git source (`git_follow`, whose leader counts each stored host pass); and what other processes store, seen
by a once-a-second look (`store_poll`). Stopping (`stop` set, e.g. by SIGTERM) starts no new pass or step, steps in
flight finish; nor does a suspended git source start a pass.

Every part is supervised (`axis.reconcile.supervisor`): an unexpected exception is logged, recorded (Warning event,
the part's condition on Controller/controller), the part runs again after a capped backoff. Only the scheduling loop
cannot restart: if it breaks, `run` raises and the process exits non-zero. Each log line carries its facts (host,
result, object...) as `extra`: the JSON log's keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from axis.drivers.connector import Connector
from axis.reconcile.apply_pass import report_spec_errors, store_watched
from axis.reconcile.git_follow import GitFollower, GitSource
from axis.reconcile.source_status import NoSource
from axis.reconcile.host_slot import Slot, Slots
from axis.reconcile.job_watch import JobWatch
from axis.reconcile.leader_watch import LeaderWatch
from axis.reconcile.membership import Membership
from axis.reconcile.owned_pass import converge_owned, crash_record
from axis.reconcile.record import bind_claims
from axis.reconcile.spec_watch import SpecWatcher
from axis.reconcile.supervisor import Part, Supervisor, describe, restart_delay
from axis.specs import Kind, Loaded, SpecErrors
from axis.specs.loader import load_specs
from axis.reconcile.store_poll import POLL_EVERY, StorePoll
from axis.state import Database
from axis.state.objects import Change

logger = logging.getLogger(__name__)

#: Expired leases are swept and pending claims retried at least this often (seconds).
CLAIMS_EVERY = 10.0


class Controller:
    def __init__(self, db: Database, connector: Connector, watch: Path | None, *, follow: GitSource | None = None,
                 resync: float = 60.0, jobs: int = 16, membership: Membership | None = None):
        """`watch` a spec directory or file, or (with `watch` None) `follow` a git source;
        `membership`: this controller among the DB's (default: the DB's only one, `sole`)."""
        self.db, self.connector, self.watch = db, connector, watch
        self.membership = membership or Membership(db, sole=True)
        self._leading = False  # the desired state was loaded as the leader (`load_watched`)
        self.resync, self.jobs, self._slots = resync, jobs, Slots()
        self._claims_due = self._poll_due = 0.0
        self._known, self._wake = StorePoll(), asyncio.Event()
        self.supervisor = Supervisor(db, follows_git=follow is not None, member=self.membership.name)
        self._spec_retry: float | None = None  # when to re-read the specs after an apply that raised
        self._streaks = {part: 0 for part in (Part.SPECS, Part.CLAIMS, Part.STORE_POLL)}
        lead_db = self.membership.leader_db  # the leader's writes, fenced (Fenced once another leads)
        self.follower = None if follow is None else GitFollower(lead_db, follow, self.supervisor, self.store_loaded)
        self.source: GitFollower | NoSource = self.follower or NoSource()  # what hears of host passes
        self.job_watch = JobWatch(lead_db, connector, self.supervisor, self._wake, jobs_at_once=jobs)
        self.watcher = LeaderWatch(self.follower.run if self.follower is not None else
                                   SpecWatcher(watch or Path(), self.supervisor, self.load_watched).run,
                                   "git follower" if self.follower else "spec watcher")

    async def run(self, stop: asyncio.Event) -> list[str]:
        """Reconcile until `stop`; the caller has stored the watched specs once (`load_watched`).

        Returns the parts that were failing when it stopped (empty: all healthy), so that the
        exit status can say so. Raises when the scheduling loop itself broke."""
        self.supervisor.begin()
        gate = asyncio.Semaphore(self.jobs)
        watcher: asyncio.Task[None] | None = None  # the leader's watcher, once ended
        stopper = asyncio.create_task(stop.wait())
        stopper.add_done_callback(lambda _task: self._wake.set())
        stopper.add_done_callback(lambda _task: self._slots.halt())  # `stop` set, or the loop ended
        broken: BaseException | None = None
        try:
            while not stop.is_set():
                self.membership.tick_if_due(self._slots.busy)
                self._slots.lapse(self.membership.token)  # a pass whose grant lapsed starts no new step
                self._lead()
                self.watcher.check()
                now = time.time()
                for name, slot in self._slots.items() if not self.source.suspended else ():
                    if slot.task is None and (token := self.membership.token(name)) is not None and (
                            slot.due <= now or token != slot.token):  # due, or granted anew
                        slot.token, slot.halt = token, asyncio.Event()
                        slot.task = asyncio.create_task(self._host_pass(name, slot, gate, slot.halt, token))
                if self._spec_retry is not None and now >= self._spec_retry:
                    self.load_watched()
                if now >= self._poll_due:
                    self._periodic(Part.STORE_POLL, self._notice_stored)
                if self.membership.leader and now >= self._claims_due:
                    self._periodic(Part.CLAIMS, self._place_claims)
                if self.membership.leader:
                    self.job_watch.tick(now)
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._idle_seconds()):
                        await self._wake.wait()
        except Exception as exc:
            broken = exc
            logger.critical("the controller loop failed, exiting: %s", describe(exc), extra={"error": describe(exc)})
            logger.debug("traceback", exc_info=exc)
            raise
        finally:
            watcher = self.watcher.end()
            stopper.cancel()
            running = self._slots.running()
            if running:
                logger.info("stopping: waiting for %d host pass(es) to finish their step in flight", len(running),
                            extra={"passes": len(running)})
            await asyncio.gather(*running, *filter(None, [self.job_watch.task, watcher]), stopper, return_exceptions=True)
            self.membership.leave()
            self.supervisor.end(broken)
            if broken is None:
                logger.info("stopped")
        return self.supervisor.failing()

    def _lead(self) -> None:
        """What keeps the desired state current (`self.watcher`) runs while this controller leads:
        started, after loading, when it becomes the leader, ended when it no longer is (the
        controller runs on); the others see what it stores through `store_poll`."""
        if self.membership.leader and not self.watcher.running:
            if not self._leading:
                self.load_watched()
            self.watcher.start()
        elif not self.membership.leader and self.watcher.running:
            self.watcher.end()
            self._leading = False

    def load_watched(self) -> None:
        """A controller that does not lead only reconciles what the state DB holds. The leader:
        `apply_specs`, supervised: an exception other than a spec error (a loader bug, a DB that
        refuses the write) keeps the last good desired state in force, is recorded, and the path is
        read again after a backoff, or at once on the next edit. A watched path that no longer
        exists is not read at all (that would be an empty desired state): the watcher reports it.
        Following git, this only registers the source and reconciles what the state DB holds (the
        revision in force) until the follower's first fetch."""
        self.membership.tick_if_due(self._slots.busy)
        self._leading = self.membership.leader
        if self.follower is not None and self._leading:
            self.follower.register()
        if self.follower is not None or not self._leading:
            self._notice_stored()
            return
        assert self.watch is not None
        self._spec_retry = None
        if os.path.exists(self.watch):
            self._periodic(Part.SPECS, self.apply_specs)

    def _periodic(self, part: Part, work: Callable[[], object]) -> None:
        """Run the spec apply, claims pass or DB poll; if it raises, record it, retry after a backoff."""
        try:
            work()
        except Exception as exc:
            self._streaks[part] += 1
            delay = restart_delay(self._streaks[part])
            if part is Part.CLAIMS:
                self._claims_due = time.time() + delay
            elif part is Part.STORE_POLL:
                self._poll_due = time.time() + delay
            else:
                self._spec_retry = time.time() + delay
                self._wake.set()
            self.supervisor.failed(part, exc, attempt=self._streaks[part], retry_in=delay)
        else:
            self._streaks[part] = 0
            self.supervisor.succeeded(part)

    def apply_specs(self) -> list[Change]:
        """Re-read the whole directory and store it (prune included); keep the last good state on errors."""
        assert self.watch is not None
        try:
            loaded = load_specs([self.watch])
        except SpecErrors as exc:
            report_spec_errors(self.membership.leader_db, exc)
            if self._known.first:
                self._notice_stored()  # the first load: reconcile what was stored before, the last good state
            return []
        return self._store(loaded, str(self.watch.resolve()))[0]

    def store_loaded(self, loaded: list[Loaded], apply_set: str, revision: str) -> set[str]:
        """Store a loaded revision of the git source (marked applied with it); the hosts it made due."""
        return self._store(loaded, apply_set, (self.follower.source.name if self.follower else "", revision))[1]

    def _store(self, loaded: list[Loaded], apply_set: str, revision: tuple[str, str] | None = None
               ) -> tuple[list[Change], set[str]]:
        """Store the whole watched set (prune included) as the leader, fenced, and schedule what it
        changed; what others stored since the last look is noticed first, before the store absorbs it."""
        if not self._known.first:
            self._notice_stored()
        stored = store_watched(self.membership.leader_db, loaded, apply_set, revision)
        self._known.absorb(stored.versions, stored.fingerprint)
        names = stored.hosts
        changed = [c for c in stored.changes if c.action != "unchanged"]
        for c in changed:
            logger.info("%s/%s %s", c.kind.lower(), c.name, c.action,
                        extra={"kind": c.kind, "object": c.name, "action": c.action})
        return changed, self._schedule_changed(names, changed)

    def _notice_stored(self) -> None:
        """Schedule the hosts whose objects another process stored or deleted since the last look
        (`axis.reconcile.store_poll`).

        The first look, when the watched specs could not be loaded at start, takes every stored
        object: the last good desired state is reconciled until the specs load."""
        self._poll_due = time.time() + POLL_EVERY
        self.source.look(self._leading)  # suspension seen within a second; the leader counts stored passes
        first = self._known.first
        with self.db.read() as session:
            changed = self._known.look(session)
        if changed is None:
            return
        if first:
            logger.info("reconciling the %d object(s) stored in the state DB until the %s load",
                        len(self._known.versions), "git source's revisions" if self.follower else "watched specs",
                        extra={"objects": len(self._known.versions)})
        else:
            for c in changed:
                logger.info("%s/%s %s in the state DB by another process", c.kind.lower(), c.name, c.action,
                            extra={"kind": c.kind, "object": c.name, "action": c.action, "by": "another process"})
        self._schedule_changed({name for kind, name in self._known.versions if kind == Kind.HOST}, changed)

    def _schedule_changed(self, names: set[str], changed: list[Change]) -> set[str]:
        """Make the hosts `changed` concerns due now (returned); drop slots of hosts no longer stored."""
        now = time.time()
        for gone in set(self._slots) - names:
            del self._slots[gone]
            self.supervisor.forget(Part.HOST_PASSES, gone)
            self.source.host_gone(gone)
        everyone = any(c.kind == Kind.HOST_PROFILE for c in changed)
        touched = {c.name for c in changed if c.kind == Kind.HOST}
        due = set()
        for name in names:
            new = name not in self._slots
            if new:  # its ownership row is taken at the next tick: make that now
                self.membership.due_now()
            slot = self._slots.setdefault(name, Slot(due=now))
            if everyone or name in touched or new:
                slot.failures, slot.due = 0, now
                slot.again = slot.task is not None
                due.add(name)
        if any(c.kind == Kind.CLAIM for c in changed):
            self._claims_due = 0.0
        self._wake.set()
        return due

    async def _host_pass(self, name: str, slot: Slot, gate: asyncio.Semaphore, stop: asyncio.Event, token: int) -> None:
        started = time.time()
        fence = self.membership.fence(name, token)
        try:
            async with gate:
                if stop.is_set() or self.membership.token(name) != token:  # no longer ours while it waited
                    return
                if not await converge_owned(self.db, name, slot, self.connector, source=self.source,
                                            resync=self.resync, fence=fence, stop=stop):
                    self.membership.due_now()
        except Exception as exc:  # a bug must not kill the loop: record it (if still ours), back off, go on
            delay = slot.failed()
            self.supervisor.failed(Part.HOST_PASSES, exc, attempt=slot.failures, retry_in=delay, subject=name,
                                   also=crash_record(fence, name, started))
        else:
            self.supervisor.succeeded(Part.HOST_PASSES, name)
        finally:
            slot.task = None
            if slot.again:
                slot.again, slot.due = False, time.time()
            self._claims_due = 0.0
            self._wake.set()

    def _place_claims(self) -> None:
        now = time.time()
        bind_claims(self.membership.leader_db, now, log=True)
        self._claims_due = now + CLAIMS_EVERY

    def _idle_seconds(self) -> float:
        now = time.time()
        due = [s.due for s in self._slots.values() if s.task is None and not self.source.suspended]
        due += [self._claims_due, self._poll_due, self.job_watch.due]
        if self._spec_retry is not None:
            due.append(self._spec_retry)
        return max(0.05, min(1.0, min(due) - now, self.membership.seconds_to_tick()))
