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
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from watchfiles import awatch

from axis.reconciler.converge import converge_host
from axis.reconciler.fleet import SshOptions
from axis.reconciler.fleet_pass import plan_work
from axis.reconciler.ledger import place_claims
from axis.reconciler.observe import claim_tools
from axis.reconciler.record import record_claim_conditions, record_outcome
from axis.specs import SpecErrors, load_specs
from axis.state import Database
from axis.state.events import record_event
from axis.state.objects import (Change, apply_objects, desired_claims, desired_hosts, object_versions,
                                objects_fingerprint)

BACKOFF_BASE = 5.0
BACKOFF_CAP = 300.0
#: Expired leases are swept and pending claims retried at least this often (seconds).
CLAIMS_EVERY = 10.0
#: How often the DB is checked for objects stored by another process (seconds).
POLL_EVERY = 1.0
#: watchfiles: wait for `step` ms of quiet, at most `debounce` ms, so a save storm is one change.
DEBOUNCE_MS, STEP_MS = 1600, 50


@dataclass
class _Slot:
    due: float
    failures: int = 0
    task: asyncio.Task[None] | None = None
    again: bool = False  # the spec changed while a pass was running: run once more right after


def backoff(failures: int) -> float:
    return min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, failures - 1))


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

    async def run(self, stop: asyncio.Event) -> None:
        """Reconcile until `stop`; the caller has stored the watched specs once (`apply_specs`)."""
        gate = asyncio.Semaphore(self.jobs)
        watcher = asyncio.create_task(self._watch(stop))
        stopper = asyncio.create_task(self._wake_on(stop))
        try:
            while not stop.is_set():
                now = time.time()
                for name, slot in self._slots.items():
                    if slot.task is None and slot.due <= now:
                        slot.task = asyncio.create_task(self._host_pass(name, slot, gate, stop))
                if now >= self._poll_due:
                    self._notice_stored()
                if now >= self._claims_due:
                    self._place_claims()
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._idle_seconds()):
                        await self._wake.wait()
        finally:
            watcher.cancel()
            stopper.cancel()
            running = [s.task for s in self._slots.values() if s.task is not None]
            if running:
                self.log(f"stopping: waiting for {len(running)} host pass(es) to finish their step in flight")
            await asyncio.gather(*running, watcher, stopper, return_exceptions=True)
            self.log("stopped")

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
                self._versions, self._fingerprint = object_versions(session), objects_fingerprint(session)
                record_event(session, "Controller", self.watch.name, "SpecInvalid",
                             f"{exc.errors[0]}" + (f" (+{len(exc.errors) - 1} more)" if len(exc.errors) > 1 else ""),
                             type="Warning")
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
        """Schedule the hosts whose objects another process stored or deleted since the last look."""
        self._poll_due = time.time() + POLL_EVERY
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
        for c in changed:
            self.log(f"{c.kind.lower()}/{c.name} {c.action} in the state DB by another process")
        self._schedule_changed({name for kind, name in versions if kind == "Host"}, changed)

    def _schedule_changed(self, names: set[str], changed: list[Change]) -> None:
        now = time.time()
        for gone in set(self._slots) - names:
            del self._slots[gone]
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
        try:
            async with gate:
                if stop.is_set():
                    return
                await self._converge(name, slot, stop)
        except Exception as exc:  # a bug must not kill the loop: log it, back off, go on
            slot.failures += 1
            slot.due = time.time() + backoff(slot.failures)
            self.log(f"{name}: internal error: {type(exc).__name__}: {exc}")
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
        return max(0.05, min(1.0, min(due) - now))

    async def _watch(self, stop: asyncio.Event) -> None:
        async for _changes in awatch(self.watch, debounce=DEBOUNCE_MS, step=STEP_MS, stop_event=stop):
            self.apply_specs()  # editors save atomically (delete + add): re-read everything

    async def _wake_on(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._wake.set()
