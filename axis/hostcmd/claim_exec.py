"""`axis exec CLAIM -- CMD`: run a command on the claim's host while holding its lease, capped at
the memory the lease holds.

The command runs as a job of the job protocol (`axis.drivers.jobs`): the runner caps it with a
systemd unit's cgroup limit or with its watchdog, whichever the host really enforces (the facts
say which; the runner checks again), and refuses to start it where neither works unless
`--no-cap` (`cap=False`) asked for no cap. Its result (exit status, killed for memory) is read
after it ended with a second command on the same connection, never from its own output.
A job killed for memory exits 137 with a message and leaves an `OOMKilled` Warning event on the
claim; only that job's process group (or unit) is killed, so other jobs on the host run on.

Refuses before connecting when the claim is not bound or its lease has expired, and before
running when a fresh probe shows the host's available memory below what the lease holds (the
ledger only knows what axis handed out; something outside axis may have eaten the memory since).
The lease is renewed as the command starts (it may have had less than ttl/3 left) and then every
ttl/3 while it runs, so a long job never loses its host.
The command line is built by the caller as `axis on` builds it (several arguments are
`shlex.join`ed; a single argument is the user's own shell line); nothing from specs or the state
DB is ever pasted into it.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass

from axis.drivers.connector import Connector, with_connection
from axis.drivers.facts.models import EnforcementMode
from axis.drivers.jobs.protocol import Job, forget_command, job_state_command, runner_command, stop_command
from axis.drivers.jobs.state import EXIT_OOM, JobState, parse_job_state
from axis.drivers.transport import OutputCallback, Transport, TransportError
from axis.placement.candidates import Candidate, candidate, enforcement_of
from axis.placement.job_lease import oom_message
from axis.placement.ledger import extend_live
from axis.reconcile.observe import gather_facts
from axis.specs import Claim, Host, Kind
from axis.specs.units import format_duration, human_size
from axis.state import Database, jobs, leases
from axis.state import facts as facts_store
from axis.state.claims import get_status
from axis.state.events import record_event
from axis.state.objects import get_row
from axis.state.stored_specs import to_model

#: Seconds a stop of an abandoned job may take on each connection tried (the stop itself waits
#: up to 5 s between TERM and KILL).
STOP_TIMEOUT = 15.0


class ExecRefused(Exception):
    """The command was not started; the message says why and what to do."""


class ExecLost(Exception):
    """The connection failed while the command ran: its outcome is unknown."""


@dataclass(frozen=True)
class BoundClaim:
    """A claim, the host its lease binds it to, and what the lease holds there (not a transport
    Target: that one says how to reach a host, this one what a claim may use on it)."""

    claim: str
    host: Host
    memory: int
    ttl: int
    enforcement: str | None = None  # cgroup | watchdog | none, as the newest stored facts say
    enforcement_reason: str = ""
    requires_cgroup: bool = False  # the claim's requires.enforcement is cgroup: no watchdog fallback


@dataclass(frozen=True)
class ExecResult:
    """How a foreground job ended: its exit code (137 when killed for memory), whether it was
    killed for using more than the claim's memory, and a message saying so (else empty)."""

    exit_code: int
    oom_killed: bool = False
    message: str = ""
    enforcement: str = ""  # what capped it: `cgroup|watchdog|none <reason>` as the runner recorded it
    job_id: str = ""


def bound_target(db: Database, claim: str, *, now: float) -> BoundClaim:
    """The claim's host, or ExecRefused when the claim holds no live lease or runs a detached job
    (its lease's memory is that job's)."""
    with db.read() as session:
        row = get_row(session, Kind.CLAIM, claim)
        if row is None:
            raise ExecRefused(f"claim {claim!r} not found")
        lease = leases.find(session, claim)
        if lease is None:
            status = get_status(session, claim)
            why = f"{status.phase}: {status.reason}" if status and status.reason else (status.phase if status else "Pending")
            raise ExecRefused(f"claim {claim!r} is not bound ({why}); `axis renew {claim}` binds it if a host fits")
        if lease.expires <= now:
            raise ExecRefused(f"the lease of claim {claim!r} on {lease.host} expired "
                              f"{format_duration(max(1, int(now - lease.expires)))} ago; `axis renew {claim}` "
                              "binds it again if a host fits")
        host_row = get_row(session, Kind.HOST, lease.host)
        if host_row is None:  # deleting a host releases its leases; this is a race with that
            raise ExecRefused(f"claim {claim!r} is bound to {lease.host}, which is no longer in the specs")
        detached = jobs.running_for(session, claim)
        if detached is not None:  # the lease's memory is that job's: a second job would double it
            raise ExecRefused(jobs.busy(detached))
        spec = to_model(row, Claim)
        host = to_model(host_row, Host)
        stored = facts_store.latest_with_data(session, lease.host)
        data = (stored.data or {}) if stored else {}
        mode, why = enforcement_of(data, host)
        return BoundClaim(claim, host, lease.memory_bytes, spec.spec.ttl, mode, why,
                          requires_cgroup=spec.spec.requires.enforcement == "cgroup")


async def check_memory(transport: Transport, target: BoundClaim) -> Candidate:
    """Probe the host now; ExecRefused when its available memory is below the lease. The host as
    the fresh facts show it (with how it enforces a memory cap)."""
    facts = await gather_facts(transport)
    host = candidate(target.host, "complete", "", facts.model_dump(mode="json"))
    if host.problem:
        raise ExecRefused(f"{target.host.metadata.name}: {host.problem} (--force runs anyway)")
    if host.available < target.memory:
        raise ExecRefused(f"{target.host.metadata.name} has {human_size(host.available)} available now, claim "
                          f"{target.claim!r} needs {human_size(target.memory)} (--force runs anyway)")
    return host


def enforcement_mode(target: BoundClaim, fresh: Candidate | None) -> EnforcementMode:
    """How the job's cap will be enforced, from the fresh facts (else the stored ones);
    ExecRefused where the host can enforce none, or only the watchdog for a claim that requires
    cgroup (the runner, told `strict`, checks again). Facts that do not say (observed before axis
    reported it) leave the choice to the runner, which tries cgroup, then the watchdog."""
    mode, reason = (fresh.enforcement, fresh.enforcement_reason) if fresh else (target.enforcement,
                                                                                target.enforcement_reason)
    if mode == "none":
        raise ExecRefused(f"{target.host.metadata.name} cannot cap a job's memory ({reason}); "
                          "--no-cap runs the command without a cap")
    if mode == "watchdog" and target.requires_cgroup:
        raise ExecRefused(f"claim {target.claim!r} requires cgroup enforcement, and {target.host.metadata.name} "
                          f"caps only with the watchdog ({reason}); --no-cap runs the command without a cap")
    return "watchdog" if mode == "watchdog" else "cgroup"


async def run_bound(db: Database, target: BoundClaim, line: str, *,
                    connector: Connector, clock: Callable[[], float], force: bool,
                    on_output: OutputCallback, renew_every: float | None = None, cap: bool = True) -> ExecResult:
    """Connect, check memory (unless `force`), run `line` as a job capped at the lease's memory
    (uncapped when not `cap`) streaming its output while renewing the lease; return how it ended.
    A TransportError means it never started; ExecLost that the connection failed while it ran.
    No deadline: the command runs as long as it runs, its lease renewed meanwhile
    (`with_connection` with an infinite one)."""
    async def work(transport: Transport, _left: float) -> ExecResult:
        fresh = None if force else await check_memory(transport, target)
        mode: EnforcementMode = enforcement_mode(target, fresh) if cap else "none"
        if extend_live(db, target.claim, now=clock(), host=target.host.metadata.name) is None:
            raise ExecRefused(f"the lease of claim {target.claim!r} ended before the command started (released "
                              f"or expired); `axis renew {target.claim}` binds it again if a host fits")
        job = Job.new(target.claim, line)
        command, stdin = runner_command(job, cap=target.memory if cap else 0, mode=mode, detach=False,
                                        sudo=target.host.spec.sudo, strict=cap and target.requires_cgroup)
        renewer = asyncio.create_task(_keep_renewed(db, target, clock, on_output, renew_every or target.ttl / 3))
        try:
            result = await transport.run(command, input=stdin, on_output=on_output)
        except TransportError as exc:
            await stop_abandoned(target, job, transport, connector)
            raise ExecLost(str(exc)) from exc
        except asyncio.CancelledError:  # Ctrl-C: the job must not run on without its lease
            await stop_abandoned(target, job, transport, connector)
            raise
        finally:
            renewer.cancel()
        state = await _ended_state(transport, target, job)
        outcome = _outcome(target, job, result.exit_status, state)
        if outcome.oom_killed:
            with db.write() as session:
                record_event(session, Kind.CLAIM, target.claim, "OOMKilled",
                             f"job {job.id} on {target.host.metadata.name}: {outcome.message}", type="Warning",
                             now=clock())
        return outcome

    return await with_connection(target.host, connector, math.inf, work)


async def stop_abandoned(target: BoundClaim, job: Job, transport: Transport, connector: Connector) -> None:
    """Stop a job its client gave up on (Ctrl-C, the connection lost): nobody renews its lease any
    more, so its memory would soon be given to another claim. Best effort, within STOP_TIMEOUT
    seconds each way: on the same connection if it still works, else on a fresh one."""
    async def stop(on: Transport, _left: float) -> None:
        await on.run(stop_command(job.id), timeout=STOP_TIMEOUT, check=True)
        await on.run(forget_command(job.id, sudo=target.host.spec.sudo), timeout=STOP_TIMEOUT)

    try:
        await asyncio.wait_for(stop(transport, STOP_TIMEOUT), 2 * STOP_TIMEOUT)
        return
    except (TransportError, TimeoutError):
        pass
    try:
        await with_connection(target.host, connector, asyncio.get_running_loop().time() + 2 * STOP_TIMEOUT, stop)
    except (TransportError, TimeoutError):
        pass  # unreachable: the job runs on until its host comes back; nothing more can be done from here


async def _ended_state(transport: Transport, target: BoundClaim, job: Job) -> JobState | None:
    """The ended job's state, read with a second command (None when it cannot be read); its
    directory is removed once read."""
    try:
        read = await transport.run(job_state_command(job.id))
    except TransportError:
        return None
    state = parse_job_state(read.stdout)
    if not state.running:
        try:
            await transport.run(forget_command(job.id, sudo=target.host.spec.sudo))
        except TransportError:
            pass  # a directory left behind costs a few bytes; the result is already read
    return state


def _outcome(target: BoundClaim, job: Job, runner_exit: int, state: JobState | None) -> ExecResult:
    """The result from the state the host recorded; ExecRefused when the runner did not start
    the job. Without a readable state, the runner's own exit status is all there is (137 there is
    not called a memory kill: the job's own 137 looks the same)."""
    host = target.host.metadata.name
    if state is None:  # the job ran; the runner's status is its exit status
        return ExecResult(runner_exit, job_id=job.id)
    if state.missing:  # no job directory: the start command failed before the runner ran
        raise ExecRefused(f"{host}: the job runner could not start (exit {runner_exit}; its message is above)")
    if state.pgid is None:
        raise ExecRefused(f"{host}: not started: cannot cap a job's memory there ({state.enforcement_reason or 'no reason recorded'}); "
                          "--no-cap runs the command without a cap")
    if state.oom_killed:
        used, cap = state.oom_used or 0, state.oom_cap or target.memory
        message = oom_message(used, cap)
        return ExecResult(EXIT_OOM, True, message, state.enforcement or "", job.id)
    return ExecResult(state.exit if state.exit is not None else runner_exit, enforcement=state.enforcement or "",
                      job_id=job.id)


async def _keep_renewed(db: Database, target: BoundClaim, clock: Callable[[], float], on_output: OutputCallback,
                        every: float) -> None:
    while True:
        await asyncio.sleep(every)
        if extend_live(db, target.claim, now=clock(), host=target.host.metadata.name) is None:
            paced = on_output("stderr", f"axis: the lease of claim {target.claim!r} ended while the command ran "
                                        "(released or expired); its memory is no longer reserved\n")
            if paced is not None:
                await paced
            return
