"""The lease follows its detached job: renewed while the job runs, released when it ends, and the
claim's phase then says how it ended (Succeeded, Failed, OOMKilled, Stopped, Lost) with an event.

The job's state is read on its host by whoever looks (the controller's jobs pass, `axis stop`);
this module turns what was read into rows, in one transaction each. A job ends once: the first
ending recorded wins, so the controller and `axis stop` looking at the same moment agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from axis.drivers.jobs.state import JobState
from axis.placement.ledger import extend_live
from axis.specs import Kind
from axis.specs.units import human_size
from axis.state import Database, jobs, leases, phases
from axis.state.claims import set_status
from axis.state.events import record_event
from axis.state.objects import get_row
from axis.state.tables import Job, Lease

#: Seconds a detached job may take to start (its directory written, its process group known)
#: before a look that finds neither calls it Lost: the runner waits up to 10 s for a systemd unit.
STARTING = 60.0

#: The event each ending records on the claim, and its type.
_EVENTS = {phases.SUCCEEDED: ("JobSucceeded", "Normal"), phases.FAILED: ("JobFailed", "Warning"),
           phases.OOM_KILLED: ("OOMKilled", "Warning"), phases.STOPPED: ("JobStopped", "Normal"),
           phases.LOST: ("JobLost", "Warning")}


@dataclass(frozen=True)
class Ending:
    """How a job ended: its state (also its claim's phase), exit code and a message people read."""

    state: str
    exit_code: int | None
    message: str


def oom_message(used: int, cap: int) -> str:
    """The words every front end prints for a job killed for its memory."""
    return f"killed: used more than its claim's memory ({human_size(used)} of {human_size(cap)})"


def ending_of(state: JobState, *, stop_requested: bool, since_start: float = math.inf) -> Ending | None:
    """The ending that a job's state on its host shows, or None while the job runs.

    A memory kill is OOMKilled whoever asked for a stop; any other ending after `axis stop` asked
    is Stopped (the TERM it sent shows as exit 143). A job that is not running and recorded no
    exit status was killed with its runner, or the host rebooted: Lost. Except while it starts
    (`since_start`: seconds since its row was written, just before the start command): its
    directory may not exist yet, and its process group is known only once the runner (or the
    systemd unit it starts) has spawned it, so for `STARTING` seconds that is still a start."""
    if state.running:
        return None
    if since_start < STARTING and state.exit is None and (state.missing or state.pgid is None):
        return None
    if state.oom_used is not None and state.oom_cap is not None:
        return Ending(phases.OOM_KILLED, state.exit, oom_message(state.oom_used, state.oom_cap))
    if stop_requested:
        return Ending(phases.STOPPED, state.exit, "stopped by `axis stop`"
                      + (f" (exit {state.exit})" if state.exit is not None else ""))
    if state.missing:
        return Ending(phases.LOST, None, "its directory is gone from the host (~/.axis/jobs)")
    if state.exit is None:
        return Ending(phases.LOST, None, "ended without recording an exit status (its runner was killed, "
                                       "or the host rebooted)")
    if state.exit == 0:
        return Ending(phases.SUCCEEDED, 0, "exited 0")
    return Ending(phases.FAILED, state.exit, f"exited {state.exit}")


def renew_for_job(db: Database, job: Job, *, now: float) -> Lease | None:
    """Renew the lease of a running job's claim once a third of its ttl has passed since the
    last renewal (a renewal a pass would fill the events); None when the claim holds no live
    lease on the job's host any more (released, expired, deleted, or placed elsewhere since)."""
    with db.read() as session:
        lease = leases.find(session, job.claim)
        if lease is None or lease.expires <= now or lease.host != job.host:
            return None
        ttl = lease.expires - lease.renewed
        if now - lease.renewed < ttl / 3:
            return lease
    return extend_live(db, job.claim, now=now, host=job.host)


def record_end(db: Database, job_id: str, ending: Ending, *, now: float) -> bool:
    """Record that the job ended: the job row, and — when the claim's lease is still the one the
    job ran under — the lease released and the claim's phase set to the ending, with an event.
    False when the job had ended already (someone else recorded it first)."""
    with db.write() as session:
        job = jobs.get(session, job_id)
        if job is None or job.state != phases.RUNNING:
            return False
        jobs.finish(session, job, state=ending.state, exit_code=ending.exit_code, message=ending.message, ended=now)
        reason, kind = _EVENTS[ending.state]
        record_event(session, Kind.CLAIM, job.claim, reason, f"job {job_id} on {job.host}: {ending.message}",
                     type=kind, now=now)
        lease = leases.find(session, job.claim)
        row = get_row(session, Kind.CLAIM, job.claim)
        if lease is None or lease.host != job.host or row is None:
            return True  # the lease ended before the job (and said why then): the claim's phase stays
        leases.end(session, lease, reason="Released", message=f"job {job_id} ended ({ending.state})", now=now)
        set_status(session, job.claim, ending.state, generation=row.generation, now=now, host=job.host,
                   reason=f"job {job_id} {ending.message}; `axis renew {job.claim}` or a spec change places it again")
    return True
