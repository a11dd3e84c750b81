"""`axis exec --detach`, `axis logs` and `axis stop` through the real CLI on a scripted host: what
they print, their exit codes, the warning when no controller renews the lease, one job per claim."""

from __future__ import annotations

import json
import re

import pytest

from axis.drivers.transport import ErrorKind, TransportError
from axis.state import Database
from axis.state.facts import Observation, store_observations
from tests.claimkit import facts
from tests.fake_transport import FakeConnector, FakeTransport

SPECS = {"specs.yaml": """
    apiVersion: axis/v1
    kind: Host
    metadata: {name: ubu-1}
    spec: {address: ubu-1.lan}
    ---
    apiVersion: axis/v1
    kind: Claim
    metadata: {name: train}
    spec: {task: batch job, requires: {memory: 1Gi}, ttl: 10m}
"""}
STARTS = r'runner\.sh" start'  # the start command of the job protocol
STATE = r"echo missing=1"
STOP = r"kill -s TERM"
FORGET = r'rm -rf -- "\$d"'
WATCHDOG = "running=1\nenforcement=watchdog the cgroup v2 hierarchy has no memory controller\npgid=42\n"


@pytest.fixture
def bound(axis, specs, state_db):  # type: ignore[no-untyped-def]
    """Claim `train` bound to ubu-1 on stored facts (no SSH)."""
    root = specs(SPECS)
    assert axis("apply", "--no-converge", "-f", str(root)).code == 0
    db = Database(state_db)
    with db.write() as session:
        store_observations(session, [Observation("ubu-1", "complete", "", facts(total_gib=30), 1.0)])
    db.close()
    assert axis("renew", "train").code == 0
    return axis


def _status(axis) -> dict:  # type: ignore[no-untyped-def, type-arg]
    return json.loads(axis("get", "claims", "train", "-o", "json").out)["status"]


def test_detach_starts_the_job_says_how_to_follow_it_and_warns_without_a_controller(bound):
    host = FakeTransport(name="ubu-1").script(STARTS, "").script(STATE, WATCHDOG)
    bound.connector = FakeConnector({"ubu-1": host})
    r = bound("exec", "--detach", "--force", "train", "--", "python", "train.py", "--epochs", "3")
    assert r.code == 0, r.err
    job = re.fullmatch(r"job (train-[0-9a-f]{12}) started on ubu-1 \(detached; memory cap: watchdog the cgroup v2 "
                       r"hierarchy has no memory controller\): `axis logs train -f` follows it, "
                       r"`axis stop train` ends it\n", r.out)
    assert job is not None, r.out
    assert r.err == ("warning: no controller runs on this state DB, and only a controller renews a detached job's "
                     "lease: the lease of claim 'train' expires in 10m unless `axis renew train` extends it, and "
                     "the next controller stops a job whose lease expired (`axis controller`)\n")
    assert host.calls[0].startswith("sh -c ") and f" axis-job {job[1]} 1073741824 " in host.calls[0]
    assert "'python train.py --epochs 3'" in host.calls[0]  # the line, one quoted argument
    status = _status(bound)
    assert status["phase"] == "Running" and status["job"]["command"] == "python train.py --epochs 3"

    busy = (f"error: claim 'train' already runs job {job[1]} on ubu-1 (detached), which its lease's memory is for; "
            "`axis stop train` ends it\n")
    again = bound("exec", "--detach", "--force", "train", "--", "true")
    assert (again.code, again.err) == (125, busy)
    foreground = bound("exec", "--force", "train", "--", "true")  # a second job would double the memory use
    assert (foreground.code, foreground.err) == (125, busy)
    assert len(host.calls) == 2  # the start and its state: the others were refused before reaching the host

    host.rules.clear()
    host.script(r"tail -n \+1 -f", "epoch 1\n").script(STOP, "").script(STATE, "running=0\nexit=143\n")
    logs = bound("logs", "train", "-f")
    assert (logs.code, logs.out) == (0, "epoch 1\n")
    stopped = bound("stop", "train")
    assert (stopped.code, stopped.out) == (0, "claim/train Stopped: stopped by `axis stop` (exit 143)\n")
    status = _status(bound)
    assert (status["phase"], status["host"], status["job"]["exitCode"]) == ("Stopped", None, 143)


def test_a_job_the_host_cannot_cap_is_not_started_nor_recorded(bound):
    host = (FakeTransport(name="ubu-1").script(STARTS, "", exit_status=125).script(FORGET, "")
            .script(STATE, "running=0\nexit=125\nenforcement=none ps -A -o pgid= -o rss= fails\n"))
    bound.connector = FakeConnector({"ubu-1": host})
    r = bound("exec", "--detach", "--force", "train", "--", "true")
    assert r.code == 125, r.err
    assert re.fullmatch(r"error: job train-[0-9a-f]{12} did not start on ubu-1: cannot cap a job's memory there "
                        r"\(ps -A -o pgid= -o rss= fails\); --no-cap runs it without a cap\n", r.err), r.err
    assert _status(bound)["phase"] == "Bound" and "job" not in _status(bound)
    assert 'rm -rf -- "$d"' in host.calls[-1]  # its directory on the host is removed too


class _ForgetFails(FakeTransport):
    """A host whose connection drops when the failed start's directory is removed."""

    async def run(self, command, **kwargs):  # type: ignore[no-untyped-def, override]
        if re.search(FORGET, command):
            raise TransportError(ErrorKind.UNREACHABLE, "ubu-1", "connection reset")
        return await super().run(command, **kwargs)


def test_a_failed_start_is_not_recorded_even_when_its_cleanup_fails(bound):
    """Found in review: the cleanup's TransportError left the row Running, and the controller then
    read exit 125 as Failed, releasing the lease of a job that never started."""
    host = (_ForgetFails(name="ubu-1").script(STARTS, "", exit_status=125)
            .script(STATE, "running=0\nexit=125\nenforcement=none ps -A -o pgid= -o rss= fails\n"))
    bound.connector = FakeConnector({"ubu-1": host})
    r = bound("exec", "--detach", "--force", "train", "--", "true")
    assert r.code == 125 and "did not start on ubu-1: cannot cap a job's memory there" in r.err, r.err
    assert _status(bound)["phase"] == "Bound" and "job" not in _status(bound)


def test_an_ended_jobs_directory_stays_for_logs_until_the_claims_next_job_starts(bound):
    host = (FakeTransport(name="ubu-1").script(STARTS, "").script(STOP, "").script(FORGET, "")
            .script(STATE, "running=0\nexit=143\n"))
    bound.connector = FakeConnector({"ubu-1": host})
    first = bound("exec", "--detach", "--force", "train", "--", "true")
    assert first.code == 0, first.err
    assert bound("stop", "train").code == 0
    assert not any(re.search(FORGET, call) for call in host.calls)  # ended: its log is still there to read
    assert bound("renew", "train").code == 0
    assert bound("exec", "--detach", "--force", "train", "--", "true").code == 0
    [forget] = [call for call in host.calls if re.search(FORGET, call)]
    assert forget.endswith(f" axis-job {first.out.split()[1]} 0")  # the first job's, after the second started


def test_logs_and_stop_of_a_claim_without_a_job(bound):
    for command in ("logs", "stop"):
        r = bound(command, "train")
        assert r.code == 1
        assert "error: claim 'train' has no " in r.err and "`axis exec --detach train -- CMD` starts one" in r.err
    assert "claim 'nope' not found" in bound("logs", "nope").err


def test_detach_no_cap_runs_uncapped_and_says_so(bound):
    host = (FakeTransport(name="ubu-1").script(STARTS, "")
            .script(STATE, "running=1\nenforcement=none uncapped (--no-cap)\npgid=42\n"))
    bound.connector = FakeConnector({"ubu-1": host})
    r = bound("exec", "--detach", "--force", "--no-cap", "train", "--", "true")
    assert r.code == 0, r.err
    assert r.err.startswith("axis: --no-cap: claim train's memory is not enforced; running without a cap\n")
    assert "(detached; memory cap: none uncapped (--no-cap))" in r.out
    assert re.search(r" axis-job train-[0-9a-f]{12} 0 none 1 0 0 true$", host.calls[0], re.M)  # cap 0, mode none, detached, no sudo, not strict
