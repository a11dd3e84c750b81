"""The controller's jobs pass with scripted hosts: a running job's lease renewed, an ended job
recorded, a job without a lease stopped, an unreachable host's jobs left as they are, a deleted
host's jobs Lost; and `axis stop`'s host side (real hosts: tests/integration/test_detached_hosts.py)."""

from __future__ import annotations

import shlex

import asyncio
import time
from pathlib import Path

import pytest

from axis.drivers.transport import ErrorKind, OutputCallback, RunResult, TransportError
from axis.hostcmd.detached import stop_job
from axis.placement.job_lease import STARTING
from axis.placement.ledger import place_claims, release
from axis.reconcile.job_watch import JOBS_EVERY, JobWatch, check_jobs
from axis.reconcile.supervisor import Supervisor
from axis.specs import Host, Kind
from axis.state import Database, jobs, leases
from axis.state.claims import get_status
from axis.state.conditions import conditions_of
from axis.state.events import list_events
from axis.state.objects import delete_object
from tests.claimkit import T0, claim, facts, host, store
from tests.fake_transport import FakeTransport

JOB = "train-0123456789ab"
RUNNING = "running=1\nenforcement=watchdog no memory controller\ncap=4294967296\npgid=77\nstarted=1700000001\n"
EXITED = "running=0\nexit=0\ncap=4294967296\npgid=77\nstarted=1700000001\nended=1700000009\n"
STOPPED = "running=0\nexit=143\ncap=4294967296\npgid=77\nstarted=1700000001\nended=1700000012\n"


class _Host(FakeTransport):
    """A scripted host whose job-state answers come in order (the job changes between looks)."""

    def __init__(self, *states: str):
        super().__init__(name="ubu-1")
        self.states = list(states)

    async def run(self, command: str, *, input: str | None = None, timeout: float | None = None,
                  sudo: bool = False, check: bool = False, on_output: OutputCallback | None = None) -> RunResult:
        self.calls.append(command)
        if "for j; do" in command:  # the jobs pass: every job's state in one command, a block each
            ids = shlex.split(command)[5:]
            return RunResult(0, "".join(f"job={job_id}\n{self.states.pop(0)}" for job_id in ids), "")
        if "echo missing=1" in command:
            return RunResult(0, self.states.pop(0), "")
        if "kill -s TERM" in command or "systemctl reset-failed" in command:
            return RunResult(0, "", "")
        raise AssertionError(f"unexpected command {command[:80]!r}")


class _Connector:
    def __init__(self, transport: FakeTransport | None):
        self.transport, self.connects = transport, 0

    async def connect(self, target: Host) -> FakeTransport:
        assert target.metadata.name == "ubu-1"
        self.connects += 1
        if self.transport is None:
            raise TransportError(ErrorKind.UNREACHABLE, "ubu-1", "connection refused")
        return self.transport


@pytest.fixture
def db(state_db: Path | str) -> Database:
    db = Database(state_db)
    store(db, [host("ubu-1"), claim("train", requires={"memory": "4Gi"}, ttl="30s")], {"ubu-1": facts(total_gib=64)})
    place_claims(db, now=T0)
    with db.write() as session:
        jobs.add(session, job_id=JOB, claim="train", host="ubu-1", line="python train.py", now=T0 + 1)
    return db


def _look(db: Database, transport: FakeTransport | None, now: float) -> float:
    return asyncio.run(check_jobs(db, _Connector(transport), clock=lambda: now))


def _job(db: Database) -> tuple[str, int | None, str]:
    with db.read() as session:
        job = jobs.get(session, JOB)
        assert job is not None
        return job.state, job.exit_code, job.message


def test_a_running_job_keeps_its_lease_and_an_ended_one_releases_it(db):
    host = _Host(RUNNING, RUNNING, EXITED)
    assert _look(db, host, T0 + 5) == JOBS_EVERY  # ttl 30s: a look every 5s at most
    _look(db, host, T0 + 12)
    with db.read() as session:
        lease = leases.find(session, "train")
    assert lease is not None and lease.expires == T0 + 42  # renewed at T0+12 (a third of the ttl had passed)
    assert _look(db, host, T0 + 20) == JOBS_EVERY
    assert _job(db) == ("Succeeded", 0, "exited 0")
    with db.read() as session:
        status = get_status(session, "train")
        assert leases.find(session, "train") is None
    assert status is not None and status.phase == "Succeeded"
    # the id is one argument after the script(s), never pasted into one
    assert all(shlex.split(call)[-1] == JOB and JOB not in shlex.split(call)[2] for call in host.calls)


def test_a_job_seen_while_it_starts_keeps_its_lease_and_is_lost_only_later(db):
    """A look between the row's write and the runner's first files (no directory yet), or before
    the job's process group is known, is a job starting, not a job Lost."""
    host = _Host("missing=1\n", "running=0\nenforcement=cgroup systemd unit\ncap=4294967296\nstarted=1700000001\n",
                 "missing=1\n")
    _look(db, host, T0 + 2)
    _look(db, host, T0 + 12)
    assert _job(db) == ("Running", None, "")
    with db.read() as session:
        lease = leases.find(session, "train")
    assert lease is not None and lease.expires == T0 + 42  # renewed while it starts
    _look(db, host, T0 + 1 + STARTING)
    assert _job(db) == ("Lost", None, "its directory is gone from the host (~/.axis/jobs)")


def test_a_job_starting_without_a_lease_is_stopped_once_it_has_a_process_group(db):
    release(db, "train", now=T0 + 2)
    host = _Host("missing=1\n", RUNNING, STOPPED)
    _look(db, host, T0 + 3)  # nothing to signal yet (a stop would fail, and hold up the host's other jobs)
    assert _job(db) == ("Running", None, "") and len(host.calls) == 1
    _look(db, host, T0 + 6)
    assert ["kill -s TERM" in call for call in host.calls] == [False, False, True, False]
    assert _job(db)[:2] == ("Stopped", 143)


def test_a_failed_service_is_reset_once_the_jobs_end_is_recorded_and_its_directory_kept(db):
    """Found in review: a detached service that failed (an OOM kill, a non-zero exit) was never
    reset, so the host stayed `degraded` and the units piled up. The job's directory stays for
    `axis logs`; only the unit named after the job is reset, never what its `unit` file says."""
    failed = f"running=0\nexit=3\ncap=4294967296\npgid=77\nunit=axis-job-{JOB}.service\nunit.Result=exit-code\n"
    host = _Host(failed)
    _look(db, host, T0 + 5)
    assert _job(db) == ("Failed", 3, "exited 3")
    assert host.calls[1] == f"systemctl reset-failed axis-job-{JOB}.service 2>/dev/null || :"
    assert not any("rm -rf" in call for call in host.calls)
    _look(db, host, T0 + 10)  # ended: not looked at again, nor reset again
    assert len(host.calls) == 2
    forged = _Host(EXITED + f"unit=axis-job-{JOB}.service\n")  # another job's unit, in the `unit` file of this one
    with db.write() as session:
        jobs.add(session, job_id="other-0123456789ab", claim="other", host="ubu-1", line="x", now=T0 + 1)
        session.delete(jobs.get(session, JOB))
    _look(db, forged, T0 + 12)
    assert len(forged.calls) == 1 and "reset-failed" not in forged.calls[0]  # a forged name: nothing reset


def test_a_job_whose_lease_ended_is_stopped(db):
    release(db, "train", now=T0 + 2)
    host = _Host(RUNNING, STOPPED)
    _look(db, host, T0 + 3)
    assert ["kill -s TERM" in call for call in host.calls] == [False, True, False]  # look, stop, look again
    state, code, message = _job(db)
    assert (state, code) == ("Stopped", 143) and message.startswith("stopped by the controller: its claim holds no")
    with db.read() as session:
        status = get_status(session, "train")
    assert status is not None and status.phase == "Released"  # the lease's own ending stays the claim's phase


def test_an_unreachable_host_leaves_its_jobs_running(db):
    _look(db, None, T0 + 12)
    assert _job(db) == ("Running", None, "")
    with db.read() as session:
        lease = leases.find(session, "train")
    assert lease is not None and lease.expires == T0 + 30  # not renewed: it expires if the host stays away


def test_a_deleted_hosts_jobs_are_lost(db):
    with db.write() as session:
        delete_object(session, Kind.HOST, "ubu-1")
    connector = _Connector(None)
    asyncio.run(check_jobs(db, connector, clock=lambda: T0 + 5))
    assert connector.connects == 0
    assert _job(db) == ("Lost", None, "its host ubu-1 was deleted from the specs")


def test_axis_stop_stops_the_job_and_records_it_stopped(db):
    host = _Host(STOPPED)
    ending = asyncio.run(stop_job(db, "train", connector=_Connector(host), clock=lambda: T0 + 12))
    assert ending is not None and (ending.state, ending.exit_code) == ("Stopped", 143)
    assert ["kill -s TERM" in call for call in host.calls] == [True, False]
    assert _job(db) == ("Stopped", 143, "stopped by `axis stop` (exit 143)")
    with db.read() as session:
        status = get_status(session, "train")
        assert leases.find(session, "train") is None
    assert status is not None and status.phase == "Stopped"


def test_a_stop_that_never_reached_the_host_leaves_the_jobs_own_ending(db):
    """Found in review: `axis stop` noted the stop before sending it, so with the host away the
    job's later natural end was recorded Stopped. A failed stop takes its note back."""
    with pytest.raises(TransportError, match="connection refused"):
        asyncio.run(stop_job(db, "train", connector=_Connector(None), clock=lambda: T0 + 12))
    with db.read() as session:
        job = jobs.get(session, JOB)
        assert job is not None and job.stop_requested == 0
    _look(db, _Host(EXITED), T0 + 20)
    assert _job(db) == ("Succeeded", 0, "exited 0")


class _Broken:
    """A connector with a bug: not a TransportError, so the pass itself fails."""

    async def connect(self, target: Host) -> FakeTransport:
        raise RuntimeError("connector bug")


def test_the_controllers_jobs_pass_is_supervised(db):
    """A pass that raises is recorded (JobsPass False, an InternalError event) and retried after a
    backoff; the next pass that runs through sets it True again."""
    supervisor = Supervisor(db)

    async def passes() -> list[tuple[str, str, float]]:
        watch = JobWatch(db, _Broken(), supervisor, asyncio.Event())
        seen = []
        for connector in (_Broken(), _Connector(_Host(EXITED))):
            watch.connector = connector
            watch.tick(max(time.time(), watch.due))  # the second: once its backoff passed
            assert watch.task is not None and watch.due == float("inf")  # one pass at a time
            await watch.task
            with db.read() as session:
                condition = next(c for c in conditions_of(session, "Controller", "controller") if c.type == "JobsPass")
            seen.append((condition.status, condition.reason, watch.due - time.time()))
        return seen

    (failed, reason, retry), (ok, _, next_look) = asyncio.run(passes())
    assert (failed, reason, ok) == ("False", "Restarting", "True")
    assert 0 < retry <= 1 and 0 < next_look <= JOBS_EVERY
    with db.read() as session:
        events = [e.message for e in list_events(session, kind="Controller") if e.reason == "InternalError"]
    assert events == ["JobsPass: internal error: RuntimeError: connector bug; failed 1 time(s) in a row, retry in 1s"]
