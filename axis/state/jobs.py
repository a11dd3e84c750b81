"""Job rows: the detached jobs `axis exec --detach` started, running or ended.

This module only reads and writes rows; when a job starts and how it ends is decided by
`axis.hostcmd.detached` (start, stop) and the controller's jobs pass (`axis.reconcile.job_watch`),
which read the job's state on its host.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from axis.state.phases import RUNNING
from axis.state.tables import Job


class JobRunning(Exception):
    """The claim already has a running job (one at a time: the lease follows one job)."""


def add(session: Session, *, job_id: str, claim: str, host: str, line: str, now: float) -> Job:
    """Record a job as Running; JobRunning when the claim already has one (the partial unique
    index decides, so two `axis exec --detach` at once cannot both start one)."""
    running = running_for(session, claim)
    if running is not None:
        raise JobRunning(busy(running))
    job = Job(job_id=job_id, claim=claim, host=host, line=line, started=now, state=RUNNING)
    session.add(job)
    try:
        session.flush()
    except IntegrityError as exc:
        raise JobRunning(f"claim {claim!r} already runs a job; `axis stop {claim}` ends it") from exc
    return job


def busy(job: Job) -> str:
    """Why a claim with this running job takes no other job (its lease's memory is the job's)."""
    return (f"claim {job.claim!r} already runs job {job.job_id} on {job.host} (detached), which its lease's "
            f"memory is for; `axis stop {job.claim}` ends it")


def get(session: Session, job_id: str) -> Job | None:
    return session.get(Job, job_id)


def running_for(session: Session, claim: str) -> Job | None:
    """The claim's running job, if any."""
    return session.exec(select(Job).where(Job.claim == claim, Job.state == RUNNING)).first()


def latest(session: Session, claim: str) -> Job | None:
    """The claim's newest job, running or ended (what `axis logs` shows)."""
    return session.exec(select(Job).where(Job.claim == claim)
                        .order_by(col(Job.started).desc(), col(Job.job_id).desc())).first()


def all_running(session: Session) -> list[Job]:
    """Every running job, by host then claim (the controller's jobs pass)."""
    return list(session.exec(select(Job).where(Job.state == RUNNING)
                             .order_by(col(Job.host), col(Job.claim))).all())


def finish(session: Session, job: Job, *, state: str, exit_code: int | None, message: str, ended: float) -> None:
    """Record how a job ended; a job that ended already keeps its first ending."""
    if job.state != RUNNING:
        return
    job.state, job.exit_code, job.message, job.ended = state, exit_code, message, ended
    session.add(job)


def remove(session: Session, job: Job) -> None:
    """Forget a job that never started (its start command failed before the runner ran it)."""
    session.delete(job)
