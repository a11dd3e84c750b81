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

An attempt ends when every host the revision concerned has finished one pass that planned it:
Converged, or HostsFailed with the counts; a newer revision first makes it Superseded.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from axis.reconcile.git_revision import GitSource, relative_error, repo_relative
from axis.reconcile.source_record import STALLING, SourceRecorder, SourceState
from axis.reconcile.supervisor import Part, Supervisor, describe, doubling, restart_delay
from axis.sources.git import GitError, GitMirror
from axis.specs import Loaded, SpecErrors
from axis.specs.loader import load_specs
from axis.state import Database
from axis.state.sources import source_row, upsert_source

logger = logging.getLogger(__name__)

FETCH_RETRY_BASE, FETCH_RETRY_CAP = 5.0, 300.0
#: How often a suspended or waiting follower re-reads whether it is suspended (seconds).
TICK = 1.0


@dataclass
class _Attempt:
    """A stored revision whose hosts are converging."""

    id: int
    sha: str
    revision: str
    pending: set[str]
    changed: int = 0
    failed: int = 0
    failed_hosts: list[str] = field(default_factory=list)


class GitFollower:
    """Follows one source. `store(loaded, apply_set)` is the controller's store of a loaded
    revision: it returns the hosts whose desired state it changed (and scheduled)."""

    def __init__(self, db: Database, source: GitSource, supervisor: Supervisor,
                 store: Callable[[list[Loaded], str], set[str]]):
        self.db, self.source, self.supervisor, self.store = db, source, supervisor, store
        self.mirror = GitMirror(source.remote, source.cache)
        self.record = SourceRecorder(db, source.name)
        self.applied_sha = ""  # the commit in force ("" before the first one applied)
        self.suspended = False
        self._seen = ""  # the last remote commit acted on: nothing is fetched until the ref moves
        self._attempt: _Attempt | None = None
        #: how the last applied revision ended, and the newest commit refused since (if any)
        self._settled = SourceState(None, "Progressing", "waiting for the first fetch", reconciling=True)
        self._stall: SourceState | None = None
        self._fetch_error: SourceState | None = None  # the remote could not be read at the last poll
        self._recorded: dict[str, str] = {}  # host -> the commit its last converged pass planned
        self._failing: set[str] = set()  # hosts whose last pass failed

    def register(self) -> None:
        """Store the source's settings and take up where the last controller on this DB left off:
        the revision in force, whether it is suspended."""
        with self.db.write() as session:
            upsert_source(session, name=self.source.name, url=self.source.remote.display_url(),
                          ref=self.source.remote.ref, path=self.source.path, interval=self.source.interval,
                          verify=self.source.allowed_signers is not None, now=time.time())
            row = source_row(session, self.source.name)
        if row is not None:
            self.suspended = row.suspended
            self.applied_sha = row.last_applied.rpartition("@sha1:")[2]

    def revision_in_force(self) -> str:
        return self.source.remote.revision(self.applied_sha) if self.applied_sha else ""

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until `stop`. Fetch failures back off; anything unexpected is the supervisor's."""
        fetch_failures = crashes = 0
        while not stop.is_set():
            self._read_suspended()
            delay = TICK
            if not self.suspended:
                try:
                    await self.poll()
                except GitError as exc:
                    fetch_failures += 1
                    delay = doubling(min(FETCH_RETRY_BASE, self.source.interval),
                                     max(FETCH_RETRY_CAP, self.source.interval), fetch_failures)
                    logger.warning("source %s: %s; retry in %ss", self.source.name, exc, f"{delay:g}",
                                   extra={"source": self.source.name, "reason": exc.reason, "retry_in": delay})
                    self._fetch_error = SourceState(False, exc.reason, f"{exc}; retry in {delay:g}s")
                    self.record.state(self._current())
                except Exception as exc:
                    crashes += 1
                    delay = restart_delay(crashes)
                    self.supervisor.failed(Part.SOURCE, exc, attempt=crashes, retry_in=delay)
                else:
                    self._fetch_error = None
                    if fetch_failures or crashes:
                        self.record.state(self._current())
                    fetch_failures = crashes = 0
                    self.supervisor.succeeded(Part.SOURCE)
                    delay = self.source.interval * random.uniform(0.9, 1.1)
            await self._sleep(delay, stop)

    async def _sleep(self, seconds: float, stop: asyncio.Event) -> None:
        """Wait `seconds`, re-reading the suspended flag every TICK: a resume polls at once."""
        loop = asyncio.get_running_loop()
        until = loop.time() + seconds
        while not stop.is_set() and loop.time() < until:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(TICK, max(0.0, until - loop.time()))):
                    await stop.wait()
            was = self.suspended
            self._read_suspended()
            if was and not self.suspended:
                return

    def _read_suspended(self) -> None:
        with self.db.read() as session:
            row = source_row(session, self.source.name)
        suspended = bool(row and row.suspended)
        if suspended != self.suspended:
            logger.info("source %s %s", self.source.name, "suspended: no new revision is applied and no drift "
                        "repaired" if suspended else "resumed", extra={"source": self.source.name,
                                                                       "suspended": suspended})
            self.suspended = suspended
            self.record.state(SourceState(None, "Suspended", "suspended: `axis resume source` to go on")
                              if suspended else self._current())

    def _current(self) -> SourceState:
        """The state to show: a remote that cannot be read, else a refused newest commit, else the
        revision converging, else how its hosts stand."""
        for problem in (self._fetch_error, self._stall):
            if problem is not None:
                return dataclasses.replace(problem, reconciling=self._attempt is not None)
        if self._attempt is not None:
            a = self._attempt
            return SourceState(None, "Progressing", f"{a.revision}: {len(a.pending)} host(s) converging",
                               reconciling=True)
        return self._settled

    async def poll(self) -> None:
        """One look at the remote; fetch, verify, load and store only when the ref moved."""
        head = await self.mirror.remote_head()
        if head == self._seen:
            return
        sha = await self.mirror.fetch()
        revision = self.source.remote.revision(sha)
        note = ""
        if self.applied_sha and sha != self.applied_sha and not await self.mirror.is_ancestor(self.applied_sha, sha):
            note = f"not a descendant of {self.revision_in_force()}: the ref was force-pushed or rewound"
            logger.warning("source %s: %s", self.source.name, note, extra={"source": self.source.name,
                                                                           "revision": revision})
        attempt = self.record.begin(revision, note)
        logger.info("source %s: trying %s", self.source.name, revision,
                    extra={"source": self.source.name, "revision": revision})
        root: Path | None = None
        try:
            if self.source.allowed_signers is not None:
                await self.mirror.verify(sha, self.source.allowed_signers)
            root = await self.mirror.snapshot(sha, self.source.path)
            loaded = repo_relative(load_specs([root]), root, self.source.path)
        except SpecErrors as exc:
            self._seen = head
            self._refuse(attempt, revision, "SpecInvalid",
                         [str(relative_error(e, root, self.source.path)) for e in exc.errors])
            return
        except GitError as exc:
            if exc.reason not in STALLING:  # the fetch side failed: retried with backoff, not stalled
                self.record.end(attempt, exc.reason, str(exc))
                raise
            self._seen = head
            self._refuse(attempt, revision, exc.reason, [str(exc)])
            return
        self._supersede()
        hosts = self.store(loaded, self.source.apply_set)
        self._seen = head
        self.record.applied(revision)
        self.applied_sha, self._stall = sha, None
        self.mirror.prune_snapshots({sha})
        self._attempt = _Attempt(attempt, sha, revision, set(hosts))
        logger.info("source %s: applied %s (%d host(s) to converge)", self.source.name, revision, len(hosts),
                    extra={"source": self.source.name, "revision": revision, "hosts": len(hosts)})
        self._settle_if_done()

    def _refuse(self, attempt: int, revision: str, reason: str, errors: list[str]) -> None:
        """The newest commit cannot be applied: stalled until the next one; the last good stays."""
        message = errors[0] + (f" (+{len(errors) - 1} more)" if len(errors) > 1 else "")
        for error in errors:
            logger.error("source %s: %s: %s: %s", self.source.name, revision, reason, error,
                         extra={"source": self.source.name, "revision": revision, "reason": reason})
        kept = self.revision_in_force() or "none yet"
        logger.warning("source %s: %s not applied (%s); in force: %s", self.source.name, revision, reason, kept,
                       extra={"source": self.source.name, "revision": revision, "reason": reason})
        self.record.end(attempt, reason, message)
        self._stall = SourceState(False, reason, f"{revision}: {message}; in force: {kept}")
        self.record.state(self._current())

    def _supersede(self) -> None:
        if self._attempt is not None:
            a = self._attempt
            self.record.end(a.id, "Superseded", f"{len(a.pending)} host(s) had not finished a pass",
                            changed=a.changed, failed=a.failed)
            self._attempt = None

    def host_done(self, host: str, sha: str, *, changed: bool, failed: bool) -> None:
        """A host pass that planned commit `sha` ended: count it toward that revision's attempt.
        Called from the controller's host passes, so a status write that fails is logged, never raised."""
        try:
            self._count(host, sha, changed=changed, failed=failed)
        except Exception as exc:
            logger.error("source %s: cannot record %s's pass: %s", self.source.name, host, describe(exc),
                         extra={"source": self.source.name, "host": host})

    def _count(self, host: str, sha: str, *, changed: bool, failed: bool) -> None:
        if sha and not failed and self._recorded.get(host) != sha:
            self.record.host_converged(host, self.source.remote.revision(sha))
            self._recorded[host] = sha
        (self._failing.add if failed else self._failing.discard)(host)
        a = self._attempt
        if a is None or a.sha != sha or host not in a.pending:
            self._health()
            return
        a.pending.discard(host)
        a.changed += changed and not failed
        if failed:
            a.failed += 1
            a.failed_hosts.append(host)
        self._settle_if_done()

    def host_gone(self, host: str) -> None:
        """A host is no longer stored: the attempt does not wait for it, nor is it failing."""
        self._failing.discard(host)
        if self._attempt is not None:
            self._attempt.pending.discard(host)
        try:
            self._settle_if_done() if self._attempt is not None else self._health()
        except Exception as exc:
            logger.error("source %s: cannot record %s's removal: %s", self.source.name, host, describe(exc),
                         extra={"source": self.source.name, "host": host})

    def _settle_if_done(self) -> None:
        a = self._attempt
        if a is None:
            return
        if a.pending:
            self.record.state(self._current())
            return
        self._attempt = None
        if a.failed:
            result, message = "HostsFailed", f"{a.failed} host(s) failed: {', '.join(sorted(a.failed_hosts)[:5])}"
        else:
            result, message = "Converged", f"{a.changed} host(s) changed"
        self.record.end(a.id, result, message, changed=a.changed, failed=a.failed)
        logger.info("source %s: %s: %s (%s)", self.source.name, a.revision, result, message,
                    extra={"source": self.source.name, "revision": a.revision, "result": result})
        self._health(force=True)

    def _health(self, *, force: bool = False) -> None:
        """Ready, once the revision in force has settled, follows its hosts level-triggered: False
        (HostsFailed) while a host's last pass failed, True again once every host's last pass
        converged, whatever the attempt recorded."""
        if self._attempt is not None or not self.applied_sha:
            return
        revision = self.revision_in_force()
        failing = sorted(self._failing)
        state = (SourceState(False, "HostsFailed", f"{revision}: {len(failing)} host(s) failing: "
                             f"{', '.join(failing[:5])}") if failing else SourceState(True, "Succeeded",
                                                                                      f"applied {revision}"))
        if force or state != self._settled:
            self._settled = state
            self.record.state(self._current())
