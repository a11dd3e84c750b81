"""Where a followed git source stands, and what it shows: the follower's memory of the revision in
force, the attempt whose hosts are converging, a refused newest commit, a remote that cannot be
read, suspension, and which of its hosts are failing.

One state is shown at a time, in this order: suspended; the remote cannot be read (FetchFailed);
the newest commit was refused (SpecInvalid, VerificationFailed: Stalled, the last good revision in
force); a revision converging (Progressing); else how the hosts stand, level-triggered: Ready
False (HostsFailed) while one of the source's hosts failed its last pass, True once every one of
them converged, whatever the attempt recorded. Only hosts the source stored (its apply set) count:
a host applied by hand beside it is not the source's to report on.

An attempt ends when every host it waits for has finished a pass that planned its commit:
Converged, or HostsFailed with the counts; a newer revision first makes it Superseded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from axis.reconcile.source_record import SourceRecorder, SourceState
from axis.reconcile.supervisor import describe
from axis.state import Database

logger = logging.getLogger(__name__)

SUSPENDED = SourceState(None, "Suspended", "suspended: `axis resume source NAME` to go on")


@dataclass
class Attempt:
    """A stored revision whose hosts are converging."""

    id: int
    sha: str
    revision: str
    pending: set[str]
    changed: int = 0
    failed_hosts: list[str] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return len(self.failed_hosts)


class SourceStatus:
    """One source's standing; `show()` writes it (`SourceRecorder`). `revision_of(sha)` names a commit."""

    def __init__(self, db: Database, name: str, revision_of: Callable[[str], str]):
        self.record, self.name, self.revision_of = SourceRecorder(db, name), name, revision_of
        self.applied_sha = ""  # the commit in force ("" before the first one applied)
        self.suspended = False
        self.owned: set[str] = set()  # the hosts the source stored
        self.passed: set[str] = set()  # hosts that finished a pass since this controller started
        self.attempt: Attempt | None = None
        self.settled = SourceState(None, "Progressing", "waiting for the first fetch", reconciling=True)
        self.stall: SourceState | None = None  # the newest commit, refused
        self.fetch_error: SourceState | None = None  # the remote could not be read at the last poll
        self._failing: set[str] = set()  # hosts whose last pass failed

    def current(self) -> SourceState:
        if self.suspended:
            return SUSPENDED
        for problem in (self.fetch_error, self.stall):
            if problem is not None:
                return SourceState(problem.ready, problem.reason, problem.message, reconciling=self.attempt is not None)
        if self.attempt is not None:
            a = self.attempt
            return SourceState(None, "Progressing", f"{a.revision}: {len(a.pending)} host(s) converging",
                               reconciling=True)
        return self.settled

    def show(self) -> None:
        self.record.state(self.current())

    def revision_in_force(self) -> str:
        return self.revision_of(self.applied_sha) if self.applied_sha else ""

    def applied(self, attempt: int, sha: str, pending: set[str]) -> None:
        """Commit `sha` is stored and in force; its attempt waits for `pending` (of the owned hosts)."""
        self.supersede()
        self.applied_sha, self.stall = sha, None
        self.attempt = Attempt(attempt, sha, self.revision_of(sha), pending & self.owned)
        self.settle()

    def supersede(self) -> None:
        if self.attempt is not None:
            a, self.attempt = self.attempt, None
            self.record.end(a.id, "Superseded", f"{len(a.pending)} host(s) had not finished a pass",
                            changed=a.changed, failed=a.failed)

    def host_done(self, host: str, sha: str, *, changed: bool, failed: bool) -> None:
        """A host pass that planned commit `sha` ended: count it toward that revision's attempt and
        the source's health. Fed by the leader's follower from the stored passes (`SourcePass`,
        which the pass's own transaction wrote with the host's revision): a write that fails is
        logged, never raised."""
        try:
            self.passed.add(host)
            if host not in self.owned:
                return
            (self._failing.add if failed else self._failing.discard)(host)
            a = self.attempt
            if a is None or a.sha != sha or host not in a.pending:
                self.health()
                return
            a.pending.discard(host)
            a.changed += changed and not failed
            if failed:
                a.failed_hosts.append(host)
            self.settle()
        except Exception as exc:
            logger.error("source %s: cannot record %s's pass: %s", self.name, host, describe(exc),
                         extra={"source": self.name, "host": host})

    def host_gone(self, host: str) -> None:
        """A host is no longer stored, or its stored spec cannot be read: nothing to wait for."""
        try:
            self._failing.discard(host)
            self.owned.discard(host)
            if self.attempt is not None:
                self.attempt.pending.discard(host)
                self.settle()
            else:
                self.health()
        except Exception as exc:
            logger.error("source %s: cannot record %s's removal: %s", self.name, host, describe(exc),
                         extra={"source": self.name, "host": host})

    def settle(self) -> None:
        """End the attempt once no host is pending; show where the source stands either way."""
        a = self.attempt
        if a is None:
            return
        if a.pending:
            self.show()
            return
        self.attempt = None
        if a.failed:
            result, message = "HostsFailed", f"{a.failed} host(s) failed: {', '.join(sorted(a.failed_hosts)[:5])}"
        else:
            result, message = "Converged", f"{a.changed} host(s) changed"
        self.record.end(a.id, result, message, changed=a.changed, failed=a.failed)
        logger.info("source %s: %s: %s (%s)", self.name, a.revision, result, message,
                    extra={"source": self.name, "revision": a.revision, "result": result})
        self.health(force=True)

    def health(self, *, force: bool = False) -> None:
        """Once the revision in force settled, Ready follows its hosts' last passes."""
        if self.attempt is not None or not self.applied_sha:
            return
        revision, failing = self.revision_in_force(), sorted(self._failing)
        state = (SourceState(False, "HostsFailed", f"{revision}: {len(failing)} host(s) failing: "
                             f"{', '.join(failing[:5])}") if failing
                 else SourceState(True, "Succeeded", f"applied {revision}"))
        if force or state != self.settled:
            self.settled = state
            self.show()


class NoSource:
    """What the controller tells its source about host passes, when its desired state is a watched
    directory: nobody listens, nothing is ever suspended."""

    suspended = False

    def host_gone(self, host: str) -> None:
        """Nothing to count."""

    def look(self, leading: bool) -> None:
        """A directory cannot be suspended, and its host passes count toward nothing."""
