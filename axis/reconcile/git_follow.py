"""`axis controller --git URL`: the desired state is what a branch or tag of a git remote names.

Flux's GitRepository and Kustomization in one loop. Every interval (±10 % jitter) one `git
ls-remote` asks the remote for the ref's commit; only when it moved is the commit fetched into a
local bare mirror, its signature verified (`--verify-signatures`), the spec path read from an
immutable snapshot of that commit (never a working tree), and the objects stored under the apply
set `git:<name>`, pruned as `axis apply --prune` would. The controller's queue converges the hosts.

What users of Flux complain about most, a broken commit blocking the fix behind it, cannot happen
here: a commit is stored in one transaction or not at all, so a spec error leaves the last good
revision in force (Stalled, SpecInvalid with the repo's path:line) and drift repair goes on; the
next commit is applied as soon as it is seen, whatever the hosts are doing (steps in flight finish,
each host's next pass plans the new revision). A commit that is not a descendant of the one in force
(force-push, rewind) is applied as well and its attempt says so. A remote that cannot be reached
keeps the revision in force (FetchFailed, retried after 5 s doubling up to five minutes or the
interval, whichever is longer) and drift repair goes on. Suspended (`axis suspend source NAME`,
read from the DB every second), it applies no new revision and the controller starts no host pass.

A commit whose spec path holds no object is refused too (it would prune the whole fleet). What the
source shows and how its attempts end is `source_status`'s. A restarted controller ends the
attempts its predecessor left open (Interrupted) and re-checks the revision in force: an attempt
noted "controller restarted" that waits for every host of the source not yet passed since.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from pathlib import Path

from axis.reconcile.git_revision import GitSource, relative_error, repo_relative, split_revision
from axis.reconcile.source_record import STALLING, SourceState
from axis.reconcile.source_status import SourceStatus
from axis.reconcile.supervisor import Part, Supervisor, describe, doubling, restart_delay
from axis.sources.git import GitError, GitMirror
from axis.specs import Loaded, SpecErrors
from axis.specs.loader import load_specs
from axis.state import Database
from axis.state.ownership import Fenced
from axis.state.sources import (end_open_attempts, last_pass_seq, passes_since, source_hosts, source_row,
                                upsert_source)

logger = logging.getLogger(__name__)

FETCH_RETRY_BASE, FETCH_RETRY_CAP = 5.0, 300.0
#: How often a suspended or waiting follower re-reads whether it is suspended (seconds).
TICK = 1.0


class _Refused(Exception):
    """The newest commit cannot be applied; only a new commit helps (it stalls the source)."""

    def __init__(self, reason: str, errors: list[str]):
        super().__init__(errors[0])
        self.reason, self.errors = reason, errors


class GitFollower:
    """Follows one source. `store(loaded, apply_set, revision)` is the controller's store of a
    loaded revision, marked applied in the same transaction (a pass that plans from the stored
    objects reads the revision they are): it returns the hosts whose desired state it changed
    (and scheduled). `db`: the leader's (`Membership.leader_db`), its writes fenced."""

    def __init__(self, db: Database, source: GitSource, supervisor: Supervisor,
                 store: Callable[[list[Loaded], str, str], set[str]]):
        self.db, self.source, self.supervisor, self.store = db, source, supervisor, store
        self.mirror = GitMirror(source.remote, source.cache)
        self.status = SourceStatus(db, source.name, source.remote.revision)
        self._seen = ""  # the last remote commit acted on: nothing is fetched until the ref moves
        self._pass_seq = 0  # the newest stored host pass already counted (`count_passes`)

    @property
    def suspended(self) -> bool:
        return self.status.suspended

    def host_done(self, host: str, sha: str, *, changed: bool, failed: bool) -> None:
        self.status.host_done(host, sha, changed=changed, failed=failed)

    def host_gone(self, host: str) -> None:
        self.status.host_gone(host)

    def register(self) -> None:
        """Store the source's settings and take up where the last controller on this DB left off
        (at start, or on becoming the leader): the revision in force, whether it is suspended, its
        hosts; attempts left open are ended, the revision in force is re-checked at the next poll,
        and only host passes stored from now on are counted."""
        now = time.time()
        with self.db.write() as session:
            upsert_source(session, name=self.source.name, url=self.source.remote.display_url(),
                          ref=self.source.remote.ref, path=self.source.path, interval=self.source.interval,
                          verify=self.source.allowed_signers is not None, now=now)
            end_open_attempts(session, self.source.name, "Interrupted",
                              "the controller stopped before its hosts finished", now)
            row = source_row(session, self.source.name)
            self.status.owned = source_hosts(session, self.source.apply_set)
            self._pass_seq = last_pass_seq(session)
        self._seen, self.status.attempt, self.status.passed = "", None, set()
        if row is not None:
            self.status.suspended = row.suspended
            self.status.applied_sha = split_revision(row.last_applied)[1]

    def read_suspended(self, *, show: bool = True) -> None:
        """Re-read whether the source is suspended (the controller asks every second, too); `show`
        writes the source's status on a change (the leader's: the others only stop their passes)."""
        with self.db.read() as session:
            row = source_row(session, self.source.name)
        suspended = bool(row and row.suspended)
        if suspended != self.status.suspended:
            logger.info("source %s %s", self.source.name, "suspended: no new revision is applied and no drift "
                        "repaired" if suspended else "resumed", extra={"source": self.source.name,
                                                                       "suspended": suspended})
            self.status.suspended = suspended
            if show:
                self.status.show()

    def look(self, leading: bool) -> None:
        """The controller's look every second: whether the source is suspended and, while it
        `leading`, the host passes stored since the last look (`count_passes`)."""
        self.read_suspended(show=leading)
        if leading:
            self.count_passes()

    def count_passes(self) -> None:
        """Count the passes over the source's hosts that any controller stored since the last
        look toward the attempt and the health: level-triggered from the DB, so an attempt
        converges once every host passed its revision, whichever controller holds the host."""
        with self.db.read() as session:
            passes = passes_since(session, self.source.name, self._pass_seq)
        for done in passes:
            self._pass_seq = max(self._pass_seq, done.seq)
            self.host_done(done.host, split_revision(done.revision)[1], changed=done.changed, failed=done.failed)

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until `stop`. Fetch failures back off; anything unexpected (a DB that refuses a
        write included) is the supervisor's, and the loop goes on after a backoff."""
        fetch_failures = crashes = 0
        while not stop.is_set():
            delay = TICK
            try:
                self.read_suspended()
                if not self.status.suspended:
                    try:
                        await self.poll()
                    except GitError as exc:
                        fetch_failures += 1
                        delay = doubling(min(FETCH_RETRY_BASE, self.source.interval),
                                         max(FETCH_RETRY_CAP, self.source.interval), fetch_failures)
                        logger.warning("source %s: %s; retry in %ss", self.source.name, exc, f"{delay:g}",
                                       extra={"source": self.source.name, "reason": exc.reason, "retry_in": delay})
                        self.status.fetch_error = SourceState(False, exc.reason, f"{exc}; retry in {delay:g}s")
                        self.status.show()
                    else:
                        if self.status.fetch_error is not None or crashes:
                            self.status.fetch_error = None
                            self.status.show()
                        fetch_failures = crashes = 0
                        self.supervisor.succeeded(Part.SOURCE)
                        delay = self.source.interval * random.uniform(0.9, 1.1)
            except Exception as exc:
                crashes += 1
                delay = restart_delay(crashes)
                self.supervisor.failed(Part.SOURCE, exc, attempt=crashes, retry_in=delay)
            await self._sleep(delay, stop)

    async def _sleep(self, seconds: float, stop: asyncio.Event) -> None:
        """Wait `seconds`, looking at the suspended flag every TICK (the controller's poll reads it from
        the DB each second; `run` once a turn): a resume polls at once."""
        loop = asyncio.get_running_loop()
        until, was_suspended = loop.time() + seconds, self.status.suspended
        while not stop.is_set() and loop.time() < until:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(TICK, max(0.0, until - loop.time()))):
                    await stop.wait()
            if was_suspended and not self.status.suspended:  # the controller's poll reads the flag each second
                return

    async def poll(self) -> None:
        """One look at the remote; fetch, verify, load and store only when the ref moved."""
        head = await self.mirror.remote_head()
        if head == self._seen:
            return
        restarted = not self._seen
        sha = await self.mirror.fetch()
        revision = self.source.remote.revision(sha)
        in_force = self.status.revision_in_force()
        note = "controller restarted: the revision in force, re-checked" if restarted and sha == \
            self.status.applied_sha else ""
        if in_force and sha != self.status.applied_sha and not await self.mirror.is_ancestor(self.status.applied_sha, sha):
            note = f"not a descendant of {in_force}: the ref was force-pushed or rewound"
            logger.warning("source %s: %s", self.source.name, note, extra={"source": self.source.name,
                                                                           "revision": revision})
        attempt = self.status.record.begin(revision, note)
        logger.info("source %s: trying %s", self.source.name, revision,
                    extra={"source": self.source.name, "revision": revision})
        try:
            self.status.record.state(SourceState(None, "Progressing", f"{revision}: fetched; verifying and loading",
                                                 reconciling=True))
            loaded = await self._load(sha)
            self.read_suspended()
            if self.status.suspended:  # suspended while git ran: nothing is stored; resume applies it
                self.status.record.end(attempt, "Suspended", "suspended before it was stored")
                return
            due = self.store(loaded, self.source.apply_set, revision)
        except _Refused as exc:
            self._seen = sha
            self._refuse(attempt, revision, exc.reason, exc.errors)
            return
        except asyncio.CancelledError:
            # a leader that lost the role meanwhile may no longer write (Fenced): the next leader
            # ends the attempt it left open; the cancellation itself must go on, not that refusal
            with contextlib.suppress(Fenced):
                self.status.record.end(attempt, "Interrupted", "the controller stopped")
            raise
        except Exception as exc:  # fetch trouble (retried with backoff) or a crash: end the attempt
            if isinstance(exc, GitError):
                self.status.record.end(attempt, exc.reason, str(exc))
            else:
                self.status.record.end(attempt, "Failed", describe(exc))
            self.status.show()
            raise
        self._seen = sha
        with self.db.read() as session:
            self.status.owned = source_hosts(session, self.source.apply_set)
        self.status.applied(attempt, sha, due | (self.status.owned - self.status.passed if restarted else set()))
        self.mirror.prune_snapshots({sha})
        logger.info("source %s: applied %s (%d host(s) to converge)", self.source.name, revision,
                    len(self.status.attempt.pending) if self.status.attempt else 0,
                    extra={"source": self.source.name, "revision": revision})

    async def _load(self, sha: str) -> list[Loaded]:
        """Verify and load commit `sha`; `_Refused` when it cannot be applied as it is."""
        root: Path | None = None
        try:
            if self.source.allowed_signers is not None:
                await self.mirror.verify(sha, self.source.allowed_signers)
            root = await self.mirror.snapshot(sha, self.source.path)
            loaded = repo_relative(load_specs([root]), root, self.source.path, self.source.apply_set)
        except SpecErrors as exc:
            raise _Refused("SpecInvalid", [str(relative_error(e, root, self.source.path)) for e in exc.errors]) from exc
        except GitError as exc:
            if exc.reason not in STALLING:
                raise
            raise _Refused(exc.reason, [str(exc)]) from exc
        if not loaded:
            raise _Refused("SpecInvalid", [f"{self.source.path}: no objects (an empty revision would prune every "
                                           f"object of the source; delete them with `axis delete` if that is meant)"])
        return loaded

    def _refuse(self, attempt: int, revision: str, reason: str, errors: list[str]) -> None:
        """The newest commit cannot be applied: stalled until the next one; the last good stays."""
        message = errors[0] + (f" (+{len(errors) - 1} more)" if len(errors) > 1 else "")
        for error in errors:
            logger.error("source %s: %s: %s: %s", self.source.name, revision, reason, error,
                         extra={"source": self.source.name, "revision": revision, "reason": reason})
        kept = self.status.revision_in_force() or "none yet"
        logger.warning("source %s: %s not applied (%s); in force: %s", self.source.name, revision, reason, kept,
                       extra={"source": self.source.name, "revision": revision, "reason": reason})
        self.status.record.end(attempt, reason, message)
        self.status.stall = SourceState(False, reason, f"{revision}: {message}; in force: {kept}")
        self.status.show()
