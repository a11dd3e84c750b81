"""Git sources in the state DB: what each follows, its attempts to apply revisions, and which
revision last converged each host.

The controller writes these rows; every front end reads them. A source's conditions (Ready,
Stalled, Reconciling) are ordinary rows of the conditions table under kind `SOURCE_KIND`, and
its events are ordinary events, so the existing views show them without a second mechanism.
Attempts are kept bounded (`MAX_ATTEMPTS` per source): a controller following a busy branch for
months stays small, and only the newest few are ever shown.
"""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import Session, col, delete, select

from axis.state.events import record_event
from axis.state.object_kinds import SOURCE_KIND
from axis.state.tables import DesiredObject, HostRevision, SourceAttempt, SourcePass, SourceRow

#: The attempts kept per source; `describe source` shows the newest five.
MAX_ATTEMPTS = 50

PROGRESSING = "Progressing"

#: The apply set a git source stores its objects under is this prefix and its name.
APPLY_SET_PREFIX = "git:"


def apply_set_of(source: str) -> str:
    return APPLY_SET_PREFIX + source


def upsert_source(session: Session, *, name: str, url: str, ref: str, path: str, interval: float,
                  verify: bool, now: float) -> None:
    """Store a source's configuration (`url` already as displayed, without credentials).

    Its suspension, history and revisions are kept: restarting the controller with another
    interval must not forget what was applied. An event says when the configuration changed.
    """
    row = session.get(SourceRow, name)
    if row is None:
        session.add(SourceRow(name=name, url=url, ref=ref, path=path, interval=interval, verify=verify,
                              created_at=now, updated_at=now))
        record_event(session, SOURCE_KIND, name, "Created", _following(url, ref, path), now=now)
        return
    config = (url, ref, path, float(interval), bool(verify))
    if (row.url, row.ref, row.path, row.interval, row.verify) == config:
        return
    row.url, row.ref, row.path, row.interval, row.verify = config
    row.updated_at = now
    session.add(row)
    record_event(session, SOURCE_KIND, name, "Configured", _following(url, ref, path), now=now)


def _following(url: str, ref: str, path: str) -> str:
    return f"follows {url}, ref {ref}, path {path}"


def source_row(session: Session, name: str) -> SourceRow | None:
    return session.get(SourceRow, name)


def all_sources(session: Session) -> list[SourceRow]:
    return list(session.exec(select(SourceRow).order_by(col(SourceRow.name))).all())


def set_suspended(session: Session, name: str, suspended: bool, now: float) -> bool:
    """Suspend or resume a source; False when there is no such source.

    The event (SourceSuspended / SourceResumed) is recorded only when the state changes, so
    suspending twice leaves one line in the log, not two.
    """
    row = session.get(SourceRow, name)
    if row is None:
        return False
    if row.suspended != suspended:
        row.suspended, row.updated_at = suspended, now
        session.add(row)
        reason = "SourceSuspended" if suspended else "SourceResumed"
        what = "no new revisions are applied and drift is not repaired" if suspended else \
            "new revisions are applied and drift repaired again"
        record_event(session, SOURCE_KIND, name, reason, what, now=now)
    return True


def begin_attempt(session: Session, name: str, revision: str, now: float, *, note: str = "") -> int:
    """Record that `revision` is being applied (result Progressing) and return the attempt's id.

    It becomes the source's lastAttemptedRevision; attempts beyond the newest MAX_ATTEMPTS go.
    """
    attempt = SourceAttempt(source=name, revision=revision, time=now, result=PROGRESSING, note=note)
    session.add(attempt)
    row = session.get(SourceRow, name)
    if row is not None:
        row.last_attempted = revision
        session.add(row)
    session.flush()
    assert attempt.id is not None  # assigned by the flush
    oldest_kept = session.exec(select(SourceAttempt.id).where(SourceAttempt.source == name)
                               .order_by(col(SourceAttempt.id).desc()).offset(MAX_ATTEMPTS - 1).limit(1)).first()
    if oldest_kept is not None:
        session.exec(delete(SourceAttempt).where(col(SourceAttempt.source) == name,
                                                 col(SourceAttempt.id) < oldest_kept))
    return attempt.id


def end_attempt(session: Session, attempt_id: int, result: str, message: str = "", *, changed: int = 0,
                failed: int = 0, now: float) -> None:
    """Say how an attempt ended (Converged, HostsFailed, Superseded, SpecInvalid, ...).

    An attempt already trimmed from the history is not an error: there is nothing left to update.
    """
    attempt = session.get(SourceAttempt, attempt_id)
    if attempt is None:
        return
    attempt.result, attempt.message, attempt.finished = result, message, now
    attempt.hosts_changed, attempt.hosts_failed = changed, failed
    session.add(attempt)


def end_open_attempts(session: Session, name: str, result: str, message: str, now: float) -> int:
    """End every attempt of `name` still Progressing (its controller stopped before its hosts
    finished); returns how many. A restarted controller calls it so no attempt stays open for good."""
    open_ = list(session.exec(select(SourceAttempt).where(SourceAttempt.source == name,
                                                          SourceAttempt.result == PROGRESSING)).all())
    for attempt in open_:
        attempt.result, attempt.message, attempt.finished = result, message, now
        session.add(attempt)
    return len(open_)


def source_hosts(session: Session, apply_set: str) -> set[str]:
    """The Hosts a source stored (its apply set): the ones whose passes it answers for."""
    return set(session.exec(select(DesiredObject.name).where(DesiredObject.kind == "Host",
                                                             DesiredObject.apply_set == apply_set)).all())


def mark_applied(session: Session, name: str, revision: str, now: float) -> None:
    """`revision` is now the one in force (lastAppliedRevision)."""
    row = session.get(SourceRow, name)
    if row is not None:
        row.last_applied, row.last_applied_at = revision, now
        session.add(row)


def recent_attempts(session: Session, name: str, limit: int = 5) -> list[SourceAttempt]:
    """The newest `limit` attempts of a source, newest first."""
    return list(session.exec(select(SourceAttempt).where(SourceAttempt.source == name)
                             .order_by(col(SourceAttempt.id).desc()).limit(limit)).all())


def record_host_revision(session: Session, host: str, source: str, revision: str, now: float) -> None:
    """`revision` of `source` converged `host` at `now` (replacing what converged it before)."""
    row = session.get(HostRevision, host)
    if row is None:
        session.add(HostRevision(host=host, source=source, revision=revision, converged_at=now))
        return
    row.source, row.revision, row.converged_at = source, revision, now
    session.add(row)


def drop_host_revision(session: Session, host: str) -> None:
    """A deleted host keeps no revision row (a host of the same name later starts afresh). Its
    last `SourcePass` row stays: the pass counter is the highest `seq` stored, and deleting the
    row that holds it would hand that seq out again, to a pass a leader already counted past (a
    host of the same name overwrites the row with its first pass)."""
    session.exec(delete(HostRevision).where(col(HostRevision.host) == host))


def planned_revision(session: Session, apply_set: str) -> tuple[str, str] | None:
    """(source, revision in force) for a host stored under `apply_set`, when a git source stored
    it and has applied a revision: read in the pass's planning transaction, it is the revision the
    pass converges the host to (the source's store marks the revision applied in the transaction
    that stores its objects)."""
    if not apply_set.startswith(APPLY_SET_PREFIX):
        return None
    row = session.get(SourceRow, apply_set[len(APPLY_SET_PREFIX):])
    return (row.name, row.last_applied) if row is not None and row.last_applied else None


def record_source_pass(session: Session, host: str, source: str, revision: str, *, changed: bool, failed: bool,
                       now: float) -> None:
    """A pass over `host` that planned `revision` of `source` ended (in the pass's record
    transaction, whichever controller ran it): its `SourcePass` row, and the host's revision
    when the pass converged it to a revision other than the one recorded."""
    seq = (session.exec(select(func.max(SourcePass.seq))).one() or 0) + 1
    row = session.get(SourcePass, host) or SourcePass(host=host, source=source, revision=revision)
    row.source, row.revision, row.changed, row.failed, row.passed_at, row.seq = \
        source, revision, changed, failed, now, seq
    session.add(row)
    if not failed:
        converged = session.get(HostRevision, host)
        if converged is None or (converged.source, converged.revision) != (source, revision):
            record_host_revision(session, host, source, revision, now)


def last_pass_seq(session: Session) -> int:
    """The newest `SourcePass.seq` (0: none): where a follower that starts leading begins to read."""
    return int(session.exec(select(func.max(SourcePass.seq))).one() or 0)


def passes_since(session: Session, source: str, seq: int) -> list[SourcePass]:
    """The passes over `source`'s hosts recorded after `seq`, oldest first."""
    return list(session.exec(select(SourcePass).where(SourcePass.source == source, col(SourcePass.seq) > seq)
                             .order_by(col(SourcePass.seq))).all())
