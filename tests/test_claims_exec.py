"""`axis exec`'s decisions with a scripted transport: refusals, the memory probe, streaming, the
exit code, the memory cap and its kill, and lease renewal while the command runs (real sshd
hosts: tests/integration). The command runs as a job: the transport answers the runner's start
command with the job's output, then the state command with what the host recorded."""

from __future__ import annotations

import asyncio
import shlex
from pathlib import Path

import pytest

from axis.drivers.transport import ErrorKind, RunResult, TransportError
from axis.drivers.jobs.protocol import RUNNER
from axis.hostcmd.claim_exec import ExecLost, ExecRefused, bound_target, run_bound
from axis.state.events import list_events
from axis.state.facts import Observation, store_observations
from axis.placement.ledger import place_claims, release
from axis.specs import Host
from axis.state import Database, leases
from tests.claimkit import T0, claim, facts, host, store
from tests.factskit import parse
from tests.fake_transport import FakeTransport, job_starts, script_job as job

FIXTURES = Path(__file__).parent / "fixtures" / "facts"
DEBIAN = (FIXTURES / "debian12.txt").read_text()  # a real capture: MemAvailable ≈ 23 GiB
AVAILABLE_GIB = parse(DEBIAN).memory.available_bytes / 2**30  # type: ignore[union-attr]
FACTS_SCRIPT = r"_axis_section uname"  # every facts script runs this section


@pytest.fixture
def db(state_db: Path | str) -> Database:
    db = Database(state_db)
    store(db, [host("ubu-1"), claim("small", requires={"memory": "4Gi"}), claim("big", requires={"memory": "26Gi"}),
               claim("waits", requires={"memory": "40Gi"})], {"ubu-1": facts(total_gib=64)})
    place_claims(db, now=T0)
    return db


class _Connector:
    """A fake Connector: hands out `transport` for ubu-1, the claims' host."""

    def __init__(self, transport):  # type: ignore[no-untyped-def]
        self.transport = transport

    async def connect(self, target: Host):  # type: ignore[no-untyped-def]
        assert target.metadata.name == "ubu-1"
        return self.transport


def _run(db, name, line, transport, *, force=False, clock=lambda: T0 + 1, renew_every=None, cap=True):  # type: ignore[no-untyped-def]
    chunks: list[tuple[str, str]] = []
    result = asyncio.run(run_bound(db, bound_target(db, name, now=clock()), line, connector=_Connector(transport),
                                   clock=clock, force=force, on_output=lambda s, t: chunks.append((s, t)),
                                   renew_every=renew_every, cap=cap))
    return result, chunks


def test_refuses_an_unbound_claim_and_an_expired_lease(db):
    with pytest.raises(ExecRefused, match=r"claim 'waits' is not bound \(Pending: no host fits: ubu-1: not enough"):
        bound_target(db, "waits", now=T0 + 1)
    with pytest.raises(ExecRefused, match=r"the lease of claim 'small' on ubu-1 expired 15m ago; `axis renew small`"):
        bound_target(db, "small", now=T0 + 60 * 60)
    release(db, "small", now=T0 + 2)
    with pytest.raises(ExecRefused, match=r"claim 'small' is not bound \(Released: released by `axis release`"):
        bound_target(db, "small", now=T0 + 3)
    with pytest.raises(ExecRefused, match="claim 'nope' not found"):
        bound_target(db, "nope", now=T0)


def test_runs_the_command_streams_its_output_and_returns_its_exit_code(db):
    fake = job(FakeTransport(name="ubu-1").script(FACTS_SCRIPT, DEBIAN), "ok\n", "warn\n", exit_status=3)
    result, chunks = _run(db, "small", "make test", fake)
    assert (result.exit_code, result.oom_killed, result.message) == (3, False, "")
    assert chunks == [("stdout", "ok\n"), ("stderr", "warn\n")]
    [args] = job_starts(fake)
    assert args[1:] == [str(4 * 2**30), "watchdog", "0", "0", "0", "make test"] and args[0].startswith("small-")
    assert fake.calls[-1].endswith(f"{shlex.quote(args[0])} 0") and "rm -rf" in fake.calls[-1] and fake.closed
    assert fake.calls[-3].endswith("\n" + RUNNER)  # the runner went on stdin


def test_refuses_when_the_host_has_less_available_memory_than_the_lease_unless_forced(db):
    fake = job(FakeTransport(name="ubu-1").script(FACTS_SCRIPT, DEBIAN))
    assert 4 < AVAILABLE_GIB < 26  # 'small' fits, 'big' does not
    with pytest.raises(ExecRefused, match=rf"ubu-1 has {AVAILABLE_GIB:.1f}Gi available now, claim 'big' needs 26.0Gi \(--force runs anyway\)"):
        _run(db, "big", "true", fake)
    assert not job_starts(fake) and fake.closed  # refused before running, connection closed
    forced = job(FakeTransport(name="ubu-1"))
    assert _run(db, "big", "true", forced, force=True)[0].exit_code == 0
    assert [args[-1] for args in job_starts(forced)] == ["true"] and "_axis_section" not in "".join(forced.calls)  # --force skips the probe


class _SlowTransport(FakeTransport):
    """Runs the command until the lease has been renewed while it ran (or gives up after 5 s)."""

    db: Database | None = None

    async def run(self, command, **kwargs):  # type: ignore[no-untyped-def, override]
        if kwargs.get("input") != RUNNER:  # the facts script (the memory probe), the job's state
            return await super().run(command, **kwargs)
        for _ in range(5000):
            await asyncio.sleep(0.001)
            with self.db.read() as session:  # type: ignore[union-attr]
                if leases.find(session, "small").renewed >= T0 + 40:  # type: ignore[union-attr]
                    return RunResult(0, "", "")
        return RunResult(99, "", "never renewed")


def test_the_lease_is_renewed_while_the_command_runs(db):
    slow = job(_SlowTransport(name="ubu-1").script(FACTS_SCRIPT, DEBIAN))
    slow.db = db
    ticks = iter(range(10, 10_000, 10))
    result, _ = _run(db, "small", "sleep 3600", slow, clock=lambda: T0 + next(ticks), renew_every=0.001)
    assert result.exit_code == 0
    with db.read() as session:
        lease = leases.find(session, "small")
    # clock: T0+10 bound_target, T0+20 the renewal as it starts, then T0+30, T0+40 while it runs
    assert lease.renewed >= T0 + 40 and lease.expires == lease.renewed + 45 * 60


def test_a_lease_nearly_expired_is_renewed_as_the_command_starts(db):
    """A lease with less than ttl/3 left would end before the first periodic renewal."""
    started = T0 + 45 * 60 - 5  # 5 s of the 45m lease left
    fake = job(FakeTransport(name="ubu-1"))
    result, chunks = _run(db, "small", "sleep 12", fake, force=True, clock=lambda: started, renew_every=3600)
    assert result.exit_code == 0 and "".join(text for _, text in chunks) == ""  # no "the lease ended" warning
    with db.read() as session:
        lease = leases.find(session, "small")
    assert (lease.renewed, lease.expires) == (started, started + 45 * 60)


def test_a_lease_released_before_the_command_starts_is_refused(db):
    class _Releasing(FakeTransport):
        async def run(self, command, **kwargs):  # type: ignore[no-untyped-def, override]
            if "@@axis" in (kwargs.get("input") or ""):  # the memory probe: meanwhile someone releases the claim
                release(db, "small", now=T0 + 2)
            return await super().run(command, **kwargs)
    fake = job(_Releasing(name="ubu-1").script(FACTS_SCRIPT, DEBIAN))
    with pytest.raises(ExecRefused, match=r"the lease of claim 'small' ended before the command started"):
        _run(db, "small", "true", fake, clock=lambda: T0 + 3)
    assert not job_starts(fake) and fake.closed


def test_a_connection_lost_mid_command_is_not_an_exit_code(db):
    class _Dropping(FakeTransport):
        async def run(self, command, **kwargs):  # type: ignore[no-untyped-def, override]
            raise TransportError(ErrorKind.UNREACHABLE, "ubu-1", "connection reset")
    with pytest.raises(ExecLost, match="ubu-1: unreachable: connection reset"):
        _run(db, "small", "true", _Dropping(name="ubu-1"), force=True)


def test_a_lease_given_elsewhere_after_a_release_is_not_kept_alive_by_the_old_command(db):
    """Found in review: renewal looked the lease up by claim name only, so a command still running
    on the old host renewed the lease the claim had since been given on another host."""
    from axis.placement.ledger import extend_live

    assert extend_live(db, "small", now=T0 + 5, host="ubu-1") is not None
    with db.write() as session:  # released, then bound again elsewhere
        lease = leases.find(session, "small")
        lease.host = "ubu-2"
        session.add(lease)
    assert extend_live(db, "small", now=T0 + 6, host="ubu-1") is None
    assert extend_live(db, "small", now=T0 + 6) is not None  # `axis renew` asks for the claim, wherever


def test_a_job_over_its_cap_is_killed_with_137_a_message_and_an_oomkilled_event(db):
    killed = ("running=0\nexit=143\noom=402653184 134217728\nenforcement=watchdog no memory controller\n"
              "cap=4294967296\npgid=4242\n")
    fake = job(FakeTransport(name="ubu-1").script(FACTS_SCRIPT, DEBIAN), "allocating\n", exit_status=143, state=killed)
    result, _ = _run(db, "small", "python3 eat.py", fake)
    assert (result.exit_code, result.oom_killed) == (137, True)
    assert result.message == "killed: used more than its claim's memory (384.0Mi of 128.0Mi)"
    with db.read() as session:
        [event] = [e for e in list_events(session, name="small") if e.reason == "OOMKilled"]
    assert event.type == "Warning" and event.message == f"job {job_starts(fake)[0][0]} on ubu-1: {result.message}"


def test_a_host_that_can_cap_nothing_is_refused_unless_no_cap(db):
    stored = {"memory_enforcement": {"mode": "none", "reason": "systemd is not PID 1; ps -A fails"}}
    with db.write() as session:  # the newest stored facts say no cap is possible (--force reads those)
        store_observations(session, [Observation("ubu-1", "complete", "", {**facts(total_gib=64), **stored}, T0)])
    fake = job(FakeTransport(name="ubu-1"))
    with pytest.raises(ExecRefused, match=r"ubu-1 cannot cap a job's memory \(systemd is not PID 1; ps -A fails\); "
                                          "--no-cap runs the command without a cap"):
        _run(db, "small", "true", fake, force=True)
    assert not job_starts(fake)
    result, _ = _run(db, "small", "true", fake, force=True, cap=False)
    assert result.exit_code == 0 and job_starts(fake)[0][1:3] == ["0", "none"]  # cap 0: uncapped


def test_a_job_the_runner_refused_to_start_is_refused_with_the_hosts_reason(db):
    refused = "running=0\nexit=125\nenforcement=none ps -A -o pgid= -o rss= fails\ncap=4294967296\n"
    fake = job(FakeTransport(name="ubu-1"), exit_status=125, state=refused)
    with pytest.raises(ExecRefused, match=r"ubu-1: not started: cannot cap a job's memory there \(ps -A -o pgid= "):
        _run(db, "small", "true", fake, force=True)


def test_a_start_that_failed_before_the_runner_ran_is_not_a_command_exit_code(db):
    """`mkdir` of the job directory refused (a read-only home): the job never ran."""
    fake = job(FakeTransport(name="ubu-1"), stderr="mkdir: cannot create directory: Read-only file system\n",
               exit_status=1, state="missing=1\n")
    with pytest.raises(ExecRefused, match=r"ubu-1: the job runner could not start \(exit 1; its message is above\)"):
        _run(db, "small", "true", fake, force=True)


def test_a_claim_that_requires_cgroup_gets_no_watchdog_fallback(state_db):
    """Found in review: `requires.enforcement: cgroup` only chose the host; at exec time the runner
    fell back to the watchdog. Now the runner is told `strict` (it refuses, 125, where no cgroup
    cap is in force), and facts that say watchdog are refused before the job starts."""
    db = Database(state_db)
    cgroup = {**facts(total_gib=64), "memory_enforcement": {"mode": "cgroup", "reason": "systemd-run as root"}}
    store(db, [host("ubu-1"), claim("strict", requires={"memory": "1Gi", "enforcement": "cgroup"}),
               claim("loose", requires={"memory": "1Gi"})], {"ubu-1": cgroup})
    place_claims(db, now=T0)
    fake = job(FakeTransport(name="ubu-1"))
    for name, no_cap, strict in (("strict", False, "1"), ("loose", False, "0"), ("strict", True, "0")):
        _run(db, name, "true", fake, force=True, cap=not no_cap)
        assert job_starts(fake)[-1][1:6] == [str(2**30) if not no_cap else "0", "cgroup" if not no_cap else "none",
                                            "0", "0", strict]
    watchdog = {**cgroup, "memory_enforcement": {"mode": "watchdog", "reason": "no memory controller"}}
    with db.write() as session:
        store_observations(session, [Observation("ubu-1", "complete", "", watchdog, T0 + 1)])
    with pytest.raises(ExecRefused, match=r"claim 'strict' requires cgroup enforcement, and ubu-1 caps only with the "
                                          r"watchdog \(no memory controller\); --no-cap runs the command without a cap"):
        _run(db, "strict", "true", fake, force=True)
    assert len(job_starts(fake)) == 3
    refused = "running=0\nexit=125\nenforcement=none the claim requires cgroup enforcement: no memory.max\n"
    strict = job(FakeTransport(name="ubu-1"), exit_status=125, state=refused)
    with db.write() as session:
        store_observations(session, [Observation("ubu-1", "complete", "", cgroup, T0 + 2)])
    with pytest.raises(ExecRefused, match=r"not started: cannot cap a job's memory there \(the claim requires cgroup"):
        _run(db, "strict", "true", strict, force=True)


class _Hanging(FakeTransport):
    """The job runs until the client gives up: Ctrl-C (cancelled) or the connection drops."""

    drop: bool = False

    async def run(self, command, **kwargs):  # type: ignore[no-untyped-def, override]
        if self.drop and job_starts(self):  # dropped while the job ran: the connection is gone
            raise TransportError(ErrorKind.UNREACHABLE, "ubu-1", "connection reset")
        if kwargs.get("input") == RUNNER:
            self.calls.append(f"{command}\n{RUNNER}")
            if self.drop:
                raise TransportError(ErrorKind.UNREACHABLE, "ubu-1", "connection reset")
            await asyncio.Event().wait()
        return await super().run(command, **kwargs)


def test_ctrl_c_stops_the_job_it_leaves_without_a_lease(db):
    """Found in review: an interrupted `axis exec` only stopped renewing the lease, and the job ran
    on, uncapped by any lease. The job is stopped (TERM its group) on the same connection."""
    fake = job(_Hanging(name="ubu-1")).script(r"kill -s TERM", "")

    async def interrupted() -> None:
        task = asyncio.create_task(run_bound(db, bound_target(db, "small", now=T0 + 1), "sleep 600",
                                             connector=_Connector(fake), clock=lambda: T0 + 1, force=True,
                                             on_output=lambda s, t: None))
        while not job_starts(fake):
            await asyncio.sleep(0.001)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(interrupted())
    [args] = job_starts(fake)
    stops = [call for call in fake.calls if "no job $1 on this host" in call]
    assert len(stops) == 1 and stops[0].endswith(f" axis-job {args[0]}")


def test_a_lost_connection_stops_the_job_over_a_fresh_one(db):
    dropped = job(_Hanging(name="ubu-1"))
    dropped.drop = True
    fresh = FakeTransport(name="ubu-1").script(r"kill -s TERM", "").script(r'rm -rf -- "\$d"', "")

    class _Reconnecting:
        async def connect(self, target: Host):  # type: ignore[no-untyped-def]
            return dropped if not job_starts(dropped) else fresh

    with pytest.raises(ExecLost, match="ubu-1: unreachable: connection reset"):
        asyncio.run(run_bound(db, bound_target(db, "small", now=T0 + 1), "sleep 600", connector=_Reconnecting(),
                              clock=lambda: T0 + 1, force=True, on_output=lambda s, t: None))
    [args] = job_starts(dropped)
    assert fresh.calls[0].endswith(f" axis-job {args[0]}") and "kill -s TERM" in fresh.calls[0]
    assert fresh.calls[1].endswith(f" axis-job {args[0]} 0") and "rm -rf" in fresh.calls[1]  # 0: no sudo
