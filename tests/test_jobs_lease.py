"""Detached jobs in the state DB: one running job per claim, the lease renewed while the job runs
and released when it ends, the claim's phase and events saying how it ended, and what `get` and
`describe` show (the host side: tests/test_jobs_watch.py and tests/integration/test_detached_hosts.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from axis.app.claims import claim_status
from axis.drivers.jobs.state import JobState
from axis.placement.job_lease import STARTING, Ending, ending_of, record_end, renew_for_job
from axis.placement.ledger import place_claims, release, renew
from axis.specs import Kind
from axis.state import Database, jobs, leases, phases
from axis.state.claims import get_status
from axis.state.events import list_events
from axis.state.objects import get_row
from tests.claimkit import T0, claim, facts, host, store
from tests.dbcheck import UNIQUE_VIOLATION, execute


@pytest.fixture
def db(state_db: Path | str) -> Database:
    db = Database(state_db)
    store(db, [host("ubu-1"), host("ubu-2"), claim("train", requires={"memory": "4Gi"}, ttl="30s"),
               claim("other", requires={"memory": "1Gi"})],
          {"ubu-1": facts(total_gib=64), "ubu-2": facts(total_gib=8)})
    place_claims(db, now=T0)
    return db


def _start(db: Database, claim_name: str = "train", job_id: str = "train-0123456789ab", now: float = T0 + 1) -> str:
    with db.write() as session:
        lease = leases.find(session, claim_name)
        assert lease is not None
        jobs.add(session, job_id=job_id, claim=claim_name, host=lease.host, line="python train.py", now=now)
    return job_id


def _state(running: bool = False, exit: int | None = None, oom: tuple[int, int] | None = None) -> JobState:
    return JobState(running=running, exit=exit, oom_used=oom[0] if oom else None, oom_cap=oom[1] if oom else None,
                    enforcement="watchdog", started=int(T0), ended=None if running else int(T0) + 5, pgid=42, unit="")


def _events(db: Database, name: str = "train") -> list[tuple[str, str, str]]:
    with db.read() as session:
        return [(e.type, e.reason, e.message) for e in list_events(session, kind=Kind.CLAIM, name=name)]


def test_the_migration_keeps_one_running_job_per_claim(db, state_db):
    first = _start(db)
    with db.write() as session, pytest.raises(jobs.JobRunning, match=rf"claim 'train' already runs job {first} "
                                                                    r"on ubu-1 \(detached\), which its lease's "
                                                                    r"memory is for; `axis stop train` ends it"):
        jobs.add(session, job_id="train-000000000002", claim="train", host="ubu-1", line="x", now=T0 + 2)
    with pytest.raises(UNIQUE_VIOLATION, match="(?i)unique"):  # the index itself, not only the check before it
        execute(state_db, "INSERT INTO jobs (job_id, claim, host, line, started, state, message, ended, stop_requested)"
                          " VALUES ('train-x', 'train', 'ubu-1', 'x', 1, 'Running', '', 0, 0)")
    record_end(db, first, Ending(phases.SUCCEEDED, 0, "exited 0"), now=T0 + 3)
    renew(db, "train", now=T0 + 4)
    _start(db, job_id="train-000000000003", now=T0 + 5)  # the claim's next job, once the first ended
    with db.read() as session:
        assert [j.job_id for j in jobs.all_running(session)] == ["train-000000000003"]
        latest = jobs.latest(session, "train")
        assert latest is not None and latest.job_id == "train-000000000003"


@pytest.mark.parametrize(("state", "stop", "expected"), [
    (_state(running=True), False, None),
    (_state(exit=0), False, Ending("Succeeded", 0, "exited 0")),
    (_state(exit=3), False, Ending("Failed", 3, "exited 3")),
    (_state(exit=137, oom=(3 << 30, 1 << 30)), False,
     Ending("OOMKilled", 137, "killed: used more than its claim's memory (3.0Gi of 1.0Gi)")),
    (_state(exit=137, oom=(3 << 30, 1 << 30)), True,
     Ending("OOMKilled", 137, "killed: used more than its claim's memory (3.0Gi of 1.0Gi)")),
    (_state(exit=143), True, Ending("Stopped", 143, "stopped by `axis stop` (exit 143)")),
    (_state(exit=0), True, Ending("Stopped", 0, "stopped by `axis stop` (exit 0)")),
    (_state(), False, Ending("Lost", None, "ended without recording an exit status (its runner was killed, "
                                           "or the host rebooted)")),
])
def test_how_a_job_ended_from_its_state_on_the_host(state, stop, expected):
    assert ending_of(state, stop_requested=stop) == expected


def test_a_job_still_starting_is_not_lost():
    """Found in review: the row is written before the start command, and the runner waits up to
    10 s for a systemd unit to spawn the job, so a look in between saw no directory, or no process
    group and no exit, and recorded the job Lost while it started; nobody renewed or stopped it."""
    starting, no_dir = JobState(running=False, enforcement="cgroup systemd unit", started=int(T0)), \
        JobState(running=False, missing=True)
    for state in (starting, no_dir):
        assert ending_of(state, stop_requested=False, since_start=5) is None
        lost = ending_of(state, stop_requested=False, since_start=STARTING)
        assert lost is not None and lost.state == "Lost"
    refused = JobState(running=False, exit=125, enforcement="none ps fails")  # an exit is an end, starting or not
    assert ending_of(refused, stop_requested=False, since_start=1) == Ending("Failed", 125, "exited 125")


def test_a_running_job_renews_its_lease_once_a_third_of_the_ttl_passed(db):
    job_id = _start(db)
    with db.read() as session:
        job = jobs.get(session, job_id)
        before = leases.find(session, "train")
    assert job is not None and before is not None and before.expires == T0 + 30
    assert renew_for_job(db, job, now=T0 + 5) == before  # 5s of a 30s ttl: not yet
    renewed = renew_for_job(db, job, now=T0 + 11)
    assert renewed is not None and (renewed.renewed, renewed.expires) == (T0 + 11, T0 + 41)
    assert [r for _, r, _ in _events(db)].count("Renewed") == 1
    release(db, "train", now=T0 + 12)
    assert renew_for_job(db, job, now=T0 + 13) is None  # released: nothing to renew, the job must stop


def test_a_job_renews_no_lease_of_its_claim_on_another_host(db):
    job_id = _start(db)
    with db.write() as session:  # the claim was released and placed elsewhere since
        lease = leases.find(session, "train")
        assert lease is not None
        lease.host = "ubu-2"
        session.add(lease)
    with db.read() as session:
        job = jobs.get(session, job_id)
    assert job is not None and renew_for_job(db, job, now=T0 + 20) is None
    assert record_end(db, job_id, Ending(phases.FAILED, 1, "exited 1"), now=T0 + 21)
    with db.read() as session:
        assert leases.find(session, "train") is not None  # the other host's lease is not this job's
        status = get_status(session, "train")
        assert status is not None and status.phase == "Bound"


@pytest.mark.parametrize(("ending", "event_type", "event"), [
    (Ending(phases.SUCCEEDED, 0, "exited 0"), "Normal", "JobSucceeded"),
    (Ending(phases.FAILED, 2, "exited 2"), "Warning", "JobFailed"),
    (Ending(phases.OOM_KILLED, 137, "killed: used more than its claim's memory (3.0Gi of 1.0Gi)"), "Warning",
     "OOMKilled"),
    (Ending(phases.STOPPED, 143, "stopped by `axis stop` (exit 143)"), "Normal", "JobStopped"),
    (Ending(phases.LOST, None, "ended without recording an exit status"), "Warning", "JobLost"),
])
def test_a_job_that_ends_releases_its_lease_and_sets_the_claims_phase(db, ending, event_type, event):
    job_id = _start(db)
    assert record_end(db, job_id, ending, now=T0 + 9)
    assert not record_end(db, job_id, Ending(phases.FAILED, 1, "exited 1"), now=T0 + 10)  # the first ending wins
    with db.read() as session:
        assert leases.find(session, "train") is None
        status = get_status(session, "train")
        job = jobs.get(session, job_id)
    assert status is not None and status.phase == ending.state and status.host == "ubu-1"
    assert status.reason == f"job {job_id} {ending.message}; `axis renew train` or a spec change places it again"
    assert job is not None and (job.state, job.exit_code, job.message, job.ended) == (
        ending.state, ending.exit_code, ending.message, T0 + 9)
    assert _events(db)[-2:] == [(event_type, event, f"job {job_id} on ubu-1: {ending.message}"),
                                ("Normal", "Released", f"4.0Gi on ubu-1 freed: job {job_id} ended ({ending.state})")]
    assert place_claims(db, now=T0 + 11) == []  # an ended job's claim is not placed again by itself
    assert renew(db, "train", now=T0 + 12).host == "ubu-1"  # `axis renew` does


def test_get_and_describe_show_the_running_job_and_how_it_ended(db):
    job_id = _start(db)

    def status(now: float) -> dict:
        with db.read() as session:
            row = get_row(session, Kind.CLAIM, "train")
            assert row is not None
            return dict(claim_status(row, get_status(session, "train"), leases.find(session, "train"), now,
                                     jobs.latest(session, "train")))

    running = status(T0 + 2)
    assert running["phase"] == "Running" and running["host"] == "ubu-1"
    assert running["reason"] == f"job {job_id} runs (detached; `axis logs train`, `axis stop train`)"
    assert running["job"] == {"id": job_id, "host": "ubu-1", "command": "python train.py", "state": "Running",
                              "exitCode": None, "started": "2023-11-14T22:13:21Z", "ended": None, "message": None}
    record_end(db, job_id, Ending(phases.FAILED, 3, "exited 3"), now=T0 + 9)
    ended = status(T0 + 10)
    assert (ended["phase"], ended["host"], ended["expires"]) == ("Failed", None, None)
    assert ended["job"]["state"] == "Failed" and ended["job"]["exitCode"] == 3
    assert ended["job"]["ended"] == "2023-11-14T22:13:29Z" and ended["job"]["message"] == "exited 3"
