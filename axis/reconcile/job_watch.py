"""The controller's jobs pass: the lease follows each detached job (`axis exec --detach`).

Every few seconds (`JOBS_EVERY`, or a quarter of the shortest running job's ttl), the pass reads
the state of each running job on its host (one connection per host, hosts in parallel up to the
controller's `--jobs`, an unreachable host an error value that leaves its jobs as they were) and
then:

- a job that runs has its claim's lease renewed (`job_lease.renew_for_job`);
- a job that ended has its lease released and its claim's phase set to how it ended
  (`job_lease.record_end`: Succeeded, Failed, OOMKilled, Stopped or Lost, with an event);
- a job that runs while its claim holds no live lease on that host any more (released, expired
  because no controller renewed it, the claim deleted or placed elsewhere) is stopped: its
  memory is no longer reserved, and the ledger may already have given it to another claim.

It is a supervised part of the controller (`Part.JOBS`): an exception it did not expect is
recorded and the pass runs again after a backoff, while the other parts go on.
"""

from __future__ import annotations

import asyncio
import logging
import shlex
import time
from collections.abc import Callable
from dataclasses import replace

from axis.drivers.connector import Connector, with_connection
from axis.drivers.fan_out import fan_out
from axis.drivers.jobs.protocol import job_state_command, jobs_state_command, split_job_states, stop_command
from axis.drivers.jobs.state import JobState, parse_job_state
from axis.drivers.transport import Transport, TransportError
from axis.placement.job_lease import Ending, ending_of, record_end, renew_for_job
from axis.reconcile.supervisor import Part, Supervisor, restart_delay
from axis.specs import Host, Kind
from axis.state import Database, jobs, leases, phases
from axis.state.objects import get_row
from axis.state.stored_specs import to_model
from axis.state.tables import Job

logger = logging.getLogger(__name__)

#: Running jobs are looked at least this often (seconds); sooner when a claim's ttl is short.
JOBS_EVERY = 5.0
#: The shortest wait between two looks, whatever the ttls.
JOBS_MIN = 0.5
#: Seconds a host gets to connect and answer for its jobs.
HOST_TIMEOUT = 30.0

_LEASE_GONE = Ending(phases.STOPPED, None, "stopped by the controller: its claim holds no live lease on the host "
                                         "any more (released, expired or deleted), so its memory is not reserved")


async def check_jobs(db: Database, connector: Connector, *, clock: Callable[[], float] = time.time,
                     jobs_at_once: int = 16) -> float:
    """One look at every running job, at most `jobs_at_once` hosts at a time (the controller's
    `--jobs`); the seconds until the next look is due."""
    with db.read() as session:
        running = jobs.all_running(session)
        hosts = {name: get_row(session, Kind.HOST, name) for name in {job.host for job in running}}
    by_host: dict[str, tuple[Host, list[Job]]] = {}
    for job in running:
        row = hosts[job.host]
        if row is None:  # a deleted host released the lease; nothing can reach the job any more
            record_end(db, job.job_id, Ending(phases.LOST, None, f"its host {job.host} was deleted from the specs"),
                       now=clock())
        else:
            by_host.setdefault(job.host, (to_model(row, Host), []))[1].append(job)
    await fan_out(by_host.values(), lambda item: _check_host(db, connector, item[0], item[1], clock), jobs=jobs_at_once)
    return _next_look(db)


async def _check_host(db: Database, connector: Connector, host: Host, host_jobs: list[Job],
                      clock: Callable[[], float]) -> None:
    """Read, renew, record or stop every running job of one host over one connection."""
    async def work(transport: Transport, _left: float) -> None:
        result = await transport.run(jobs_state_command([job.job_id for job in host_jobs]), timeout=HOST_TIMEOUT)
        states = split_job_states(result.stdout)
        for job in host_jobs:
            if job.job_id in states:  # a job the answer left out (cut short) is looked at next time
                await _follow(db, transport, job, parse_job_state(states[job.job_id]), clock)

    try:
        await with_connection(host, connector, asyncio.get_running_loop().time() + HOST_TIMEOUT, work)
    except (TransportError, TimeoutError) as exc:  # an error value: its jobs are looked at next time
        logger.warning("%s: cannot look at its %d running job(s): %s", host.metadata.name, len(host_jobs),
                       str(exc) or "timed out", extra={"host": host.metadata.name, "jobs": len(host_jobs)})


async def _follow(db: Database, transport: Transport, job: Job, state: JobState,
                  clock: Callable[[], float]) -> None:
    ending = ending_of(state, stop_requested=job.stop_requested > 0, since_start=clock() - job.started)
    if ending is None and renew_for_job(db, job, now=clock()) is not None:
        return
    if ending is None and state.pgid is None:  # starting without a lease: nothing to signal yet; next look
        return
    if ending is None:  # running without a lease: stop it, then record what the host says
        await transport.run(stop_command(job.job_id), timeout=HOST_TIMEOUT, check=True)
        after = parse_job_state((await transport.run(job_state_command(job.job_id), timeout=HOST_TIMEOUT)).stdout)
        if after.running:  # not stopped yet: the next look stops it again
            return
        seen = ending_of(after, stop_requested=True)
        ending = seen if seen is not None and seen.state == phases.OOM_KILLED else replace(_LEASE_GONE, exit_code=after.exit)
    if record_end(db, job.job_id, ending, now=clock()):
        logger.info("claim/%s: job %s %s", job.claim, job.job_id, ending.message,
                    extra={"claim": job.claim, "job": job.job_id, "host": job.host, "phase": ending.state})
        await reset_failed_unit(transport, job.job_id, state)


async def reset_failed_unit(transport: Transport, job_id: str, state: JobState) -> None:
    """Once a detached job's end is recorded, reset its systemd service if it failed: a failed
    unit is kept (not collected) so that its `Result=oom-kill` can be read, and left so it
    would mark the host `degraded` and pile up. The job's directory stays: `axis logs` reads it
    (it is removed when the claim's next detached job starts on that host). As root, or through
    `sudo -n` where the Host's spec allows it (the transport decides); best effort. The unit's
    name is the job's own, never what its `unit` file (writable by the job) says."""
    unit = f"axis-job-{job_id}.service"
    if state.unit != unit:
        return
    try:
        await transport.run(f"systemctl reset-failed {shlex.quote(unit)} 2>/dev/null || :", sudo=True,
                            timeout=HOST_TIMEOUT)
    except TransportError as exc:
        logger.warning("%s: cannot reset the failed unit %s: %s", job_id, unit, exc, extra={"job": job_id})


def _next_look(db: Database) -> float:
    """JOBS_EVERY, or a quarter of the shortest ttl among the running jobs' leases (renewed once a
    third of it passed: a look a little late still renews in time)."""
    with db.read() as session:
        ttls = [lease.expires - lease.renewed for job in jobs.all_running(session)
                if (lease := leases.find(session, job.claim)) is not None]
    return max(JOBS_MIN, min([JOBS_EVERY, *(ttl / 4 for ttl in ttls)]))


class JobWatch:
    """The jobs pass as the controller runs it: a task at a time, due when `due` passes,
    supervised (a failure is recorded and retried after a backoff)."""

    def __init__(self, db: Database, connector: Connector, supervisor: Supervisor, wake: asyncio.Event, *,
                 jobs_at_once: int = 16):
        self.db, self.connector, self.supervisor, self.wake = db, connector, supervisor, wake
        self.jobs_at_once = jobs_at_once
        self.due = 0.0
        self.task: asyncio.Task[None] | None = None
        self._streak = 0

    def tick(self, now: float) -> None:
        """Start a pass if one is due and none runs."""
        if self.task is None and now >= self.due:
            self.due = float("inf")  # while it runs; the pass sets when it is due again
            self.task = asyncio.create_task(self._pass())

    async def _pass(self) -> None:
        try:
            wait = await check_jobs(self.db, self.connector, jobs_at_once=self.jobs_at_once)
        except Exception as exc:
            self._streak += 1
            delay = restart_delay(self._streak)
            self.due = time.time() + delay
            self.supervisor.failed(Part.JOBS, exc, attempt=self._streak, retry_in=delay)
        else:
            self._streak = 0
            self.due = time.time() + wait
            self.supervisor.succeeded(Part.JOBS)
        finally:
            self.task = None
            self.wake.set()
