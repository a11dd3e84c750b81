"""Detached jobs: `axis exec --detach` starts one, `axis logs` streams its output, `axis stop` ends it.

A detached job runs on its claim's host through the same runner as `axis exec`, under the same
memory cap, but outlives the SSH connection (a transient systemd service where the host caps with
cgroups, else the runner in the background: in a session of its own where `setsid` is there, as
on Linux, else ignoring SIGHUP, as on macOS). It is a row of the `jobs` table from before it
starts (one running job per claim: the row is written first, so a second start is refused before
it reaches the host) until it ends. While it runs, the controller's jobs pass
(`axis.reconcile.job_watch`) renews its claim's lease and records how it ended; without a
controller nobody renews the lease, which then expires after the claim's ttl, and the next
controller to look stops the job (its memory is no longer reserved). Its directory on the host
(`~/.axis/jobs/<job-id>/`, with its log) stays after it ended, for `axis logs`, until the claim's
next detached job starts on that host; a failed systemd service is reset once its end is recorded.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from axis.drivers.connector import Connector, with_connection
from axis.drivers.facts.models import EnforcementMode
from axis.drivers.jobs.protocol import Job, forget_command, job_state_command, logs_command, runner_command, stop_command
from axis.drivers.jobs.state import parse_job_state
from axis.drivers.transport import OutputCallback, Transport, TransportError
from axis.hostcmd.claim_exec import BoundClaim, ExecLost, ExecRefused, check_memory, enforcement_mode
from axis.placement.job_lease import Ending, ending_of, record_end
from axis.placement.ledger import extend_live
from axis.reconcile.job_watch import reset_failed_unit
from axis.specs import Host, Kind
from axis.state import Database, jobs
from axis.state.events import record_event
from axis.state.objects import get_row
from axis.state.stored_specs import to_model
from axis.state.tables import Job as JobRow

#: Seconds a host gets to start the job, stop it or say how it stands (the job itself has none).
COMMAND_TIMEOUT = 30.0


@dataclass(frozen=True)
class Started:
    """A detached job that runs: its id and host, and what the user should know about it."""

    job_id: str
    host: str
    enforcement: str  # what caps it, as the runner recorded it: `cgroup|watchdog|none <reason>`
    warning: str = ""


async def start_detached(db: Database, target: BoundClaim, line: str, *, connector: Connector,
                         clock: Callable[[], float], force: bool, no_cap: bool) -> Started:
    """Check the host's memory (unless `force`), renew the lease, record the job and start it
    detached under the lease's memory cap (none with `no_cap`), enforced as `axis exec` enforces
    it (`enforcement_mode`: what the host's facts say, checked again by the runner).

    ExecRefused when it was not started; ExecLost when the connection failed while it started
    (its row stays Running: the controller finds out whether it runs, and records it Lost if not)."""
    host = target.host.metadata.name

    async def work(transport: Transport, _left: float) -> Started:
        fresh = None if force else await check_memory(transport, target)
        mode: EnforcementMode = "none" if no_cap else enforcement_mode(target, fresh)
        now = clock()
        if extend_live(db, target.claim, now=now, host=host) is None:
            raise ExecRefused(f"the lease of claim {target.claim!r} ended before the job started (released or "
                              f"expired); `axis renew {target.claim}` binds it again if a host fits")
        job = Job.new(target.claim, line)
        job_id = job.id
        with db.write() as session:
            previous = jobs.latest(session, target.claim)
            try:
                jobs.add(session, job_id=job_id, claim=target.claim, host=host, line=line, now=now)
            except jobs.JobRunning as exc:
                raise ExecRefused(str(exc)) from None
        command, stdin = runner_command(job, cap=0 if no_cap else target.memory, mode=mode, detach=True,
                                        sudo=target.host.spec.sudo, strict=not no_cap and target.requires_cgroup)
        try:
            result = await transport.run(command, input=stdin, timeout=COMMAND_TIMEOUT)
            state = parse_job_state((await transport.run(job_state_command(job_id), timeout=COMMAND_TIMEOUT)).stdout)
        except TransportError as exc:
            raise ExecLost(f"{exc}; `axis get claims` shows whether job {job_id} runs once the controller "
                           "looked") from exc
        if not result.ok:
            try:  # its directory: a failed start leaves nothing behind
                await _forget(transport, job_id, sudo=target.host.spec.sudo)
            finally:  # never Running: the controller would read its 125 as Failed and release the lease
                with db.write() as session:
                    row = jobs.get(session, job_id)
                    if row is not None:
                        jobs.remove(session, row)
            why = (f"cannot cap a job's memory there ({state.enforcement_reason}); --no-cap runs it without a cap"
                   if state.pgid is None and state.enforcement_mode == "none"
                   else result.stderr_tail() or f"exit {result.exit_status}")
            raise ExecRefused(f"job {job_id} did not start on {host}: {why}")
        if previous is not None and previous.host == host:  # `axis logs` shows the new one from now on
            await _forget(transport, previous.job_id, sudo=target.host.spec.sudo)
        enforcement = state.enforcement or "unknown (its state could not be read)"
        with db.write() as session:
            record_event(session, Kind.CLAIM, target.claim, "JobStarted",
                         f"job {job_id} on {host}, memory cap: {enforcement}: {line[:200]}", now=clock())
        return Started(job_id, host, enforcement)

    return await with_connection(target.host, connector, math.inf, work)


async def _forget(transport: Transport, job_id: str, *, sudo: bool) -> None:
    """Remove an ended job's directory on its host (and reset its unit); best effort: a directory
    left behind costs a few bytes, and a job still running is refused by the host."""
    try:
        await transport.run(forget_command(job_id, sudo=sudo), timeout=COMMAND_TIMEOUT)
    except TransportError:
        pass


def job_host(db: Database, job: JobRow) -> Host:
    """The Host spec a job runs on; ExecRefused when the host is no longer stored."""
    with db.read() as session:
        row = get_row(session, Kind.HOST, job.host)
        if row is None:
            raise ExecRefused(f"job {job.job_id} ran on {job.host}, which is no longer in the specs")
        return to_model(row, Host)


def claim_job(db: Database, claim: str, *, running: bool) -> JobRow:
    """The claim's running job (`running`), else its newest; ExecRefused when there is none."""
    with db.read() as session:
        if get_row(session, Kind.CLAIM, claim) is None:
            raise ExecRefused(f"claim {claim!r} not found")
        job = jobs.running_for(session, claim) if running else jobs.latest(session, claim)
    if job is None:
        raise ExecRefused(f"claim {claim!r} has no {'running ' if running else ''}detached job "
                          f"(`axis exec --detach {claim} -- CMD` starts one)")
    return job


async def stream_logs(db: Database, claim: str, *, follow: bool, connector: Connector,
                      on_output: OutputCallback) -> int:
    """Stream the output of the claim's newest job (`follow`: until the job ends); the exit status
    of the command that read it."""
    job = claim_job(db, claim, running=False)

    async def work(transport: Transport, _left: float) -> int:
        result = await transport.run(logs_command(job.job_id, follow), on_output=on_output)
        return result.exit_status

    return await with_connection(job_host(db, job), connector, math.inf, work)


async def stop_job(db: Database, claim: str, *, connector: Connector, clock: Callable[[], float]) -> Ending | None:
    """Stop the claim's running job and record how it ended (the lease released); None when the
    host still shows it running after the stop (the controller's next look records its end).

    The stop is noted on the row before the TERM is sent (a controller looking meanwhile must see
    a 143 as Stopped, not Failed), and taken back when the stop command failed: a job never
    stopped keeps its own ending."""
    job = claim_job(db, claim, running=True)
    asked = _note_stop(db, job.job_id, clock())

    async def work(transport: Transport, _left: float) -> Ending | None:
        await transport.run(stop_command(job.job_id), timeout=COMMAND_TIMEOUT, check=True)
        state = parse_job_state((await transport.run(job_state_command(job.job_id), timeout=COMMAND_TIMEOUT)).stdout)
        ending = ending_of(state, stop_requested=True)
        if ending is not None and record_end(db, job.job_id, ending, now=clock()):
            await reset_failed_unit(transport, job.job_id, state)
        return ending

    try:
        return await with_connection(job_host(db, job), connector, math.inf, work)
    except BaseException:
        if asked is not None:
            _note_stop(db, job.job_id, 0.0, only_if=asked)
        raise


def _note_stop(db: Database, job_id: str, at: float, *, only_if: float | None = None) -> float | None:
    """Set the row's `stop_requested` to `at` (0: not asked) unless someone asked first (or, with
    `only_if`, unless it no longer holds that value); the value set, else None."""
    with db.write() as session:
        row = jobs.get(session, job_id)
        if row is None or row.stop_requested != (0.0 if only_if is None else only_if):
            return None
        row.stop_requested = at
        session.add(row)
    return at
