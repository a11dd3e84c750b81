"""Detached jobs on real hosts with a real controller: `axis exec --detach` returns at once and
the job outlives it; the controller renews the claim's lease while the job runs and releases it
when the job ends, the claim's phase saying how (Succeeded, OOMKilled, Stopped); `axis logs`
shows the output, `axis stop` ends the job; a job whose lease was released is stopped. Where
the host's facts say cgroup, the job runs in a transient systemd service; on the test hosts that
service caps nothing (no memory controller), which the runner catches inside it: the watchdog
caps the job there, and the controller follows it all the same."""

from __future__ import annotations

import json
import shlex
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from tests.integration.controlkit import AXIS, Workdir, controller_workdir, query, wait_for
from tests.integration.fleetspecs import host_specs, say

pytestmark = pytest.mark.hosts

#: ttl 9s: the controller renews the lease every 3s; a job running 15s outlives its first ttl.
CLAIMS = """
apiVersion: axis/v1
kind: Claim
metadata: {name: job}
spec:
  task: a detached batch job
  requires: {memory: 128Mi, tools: []}
  ttl: 9s
"""
TTL = 9


@pytest.fixture
def work(fleet: Any, tmp_path: Any) -> Iterator[Workdir]:
    """A controller on the fleet with claim `job` bound; every job it ran is killed afterwards."""
    with controller_workdir(fleet, tmp_path) as work:
        (work.specs / "hosts.yaml").write_text(host_specs(fleet))
        (work.specs / "claims.yaml").write_text(CLAIMS)
        work.start()
        wait_for(lambda: _claim(work).get("phase") == "Bound", 60, "claim job to be bound")
        try:
            yield work
        finally:
            for job_id, host in query(work.state, "SELECT job_id, host FROM jobs"):
                _host(fleet, host).exec(_kill_job(job_id), check=False)


def _kill_job(job_id: str) -> str:
    """Shell for the test host: kill the job's process group, forget its unit (if it ran in one)
    and remove its directory."""
    path, unit = shlex.quote(f"/root/.axis/jobs/{job_id}"), shlex.quote(f"axis-job-{job_id}.service")
    return (f"g=$(cat {path}/pgid 2>/dev/null) && kill -s KILL -- -$g 2>/dev/null; "
            f"systemctl stop {unit} 2>/dev/null; systemctl reset-failed {unit} 2>/dev/null; rm -rf {path}")


def _host(fleet: Any, name: str) -> Any:
    return next(h for h in fleet.hosts if h.name == name)


def _axis(work: Workdir, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The CLI as a child process: it exits before the detached job does."""
    return subprocess.run([*AXIS, "--state", str(work.state), "--ssh-config", str(work.fleet.ssh_config), *args],
                          capture_output=True, text=True, timeout=timeout)


def _claim(work: Workdir) -> dict[str, Any]:
    r = _axis(work, "get", "claims", "job", "-o", "json")
    return json.loads(r.stdout)["status"] if r.returncode == 0 else {}


def _ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _events(work: Workdir) -> list[tuple[str, str]]:
    return [(reason, message) for reason, message in
            query(work.state, "SELECT reason, message FROM events WHERE kind='Claim' AND name='job' ORDER BY id")]


def _detach(work: Workdir, *command: str) -> tuple[str, str]:
    """`axis exec --detach job -- COMMAND`: (job id, host) from what it printed."""
    started = _axis(work, "exec", "--detach", "job", "--", *command)
    assert started.returncode == 0, started.stdout + started.stderr
    job_id, host = query(work.state, "SELECT job_id, host FROM jobs WHERE state='Running'")[0]
    assert f"job {job_id} started on {host}" in started.stdout, started.stdout
    return job_id, host


def _running_on_host(fleet: Any, host: str, job_id: str) -> bool:
    path = shlex.quote(f"/root/.axis/jobs/{job_id}")
    return _host(fleet, host).exec(f"g=$(cat {path}/pgid) && kill -s 0 -- -$g", check=False).returncode == 0


def test_a_detached_job_outlives_the_client_keeps_its_lease_and_releases_it_when_it_ends(fleet, work):
    t0 = time.time()
    job_id, host = _detach(work, "sh", "-c", "echo started on $(hostname); sleep 15; echo done >&2; exit 0")
    assert time.time() - t0 < 15  # `axis exec --detach` returned; the job runs on without it
    assert _running_on_host(fleet, host, job_id)
    follow = subprocess.Popen([*AXIS, "--state", str(work.state), "--ssh-config", str(fleet.ssh_config),
                               "logs", "job", "-f"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    running = _claim(work)
    assert running["phase"] == "Running" and running["job"]["id"] == job_id, running
    wait_for(lambda: time.time() > t0 + TTL + 2, TTL + 3, "the lease's first ttl to pass")
    renewed = _claim(work)
    assert renewed["phase"] == "Running", renewed  # still bound: the controller renewed it
    assert _ts(renewed["expires"]) > t0 + TTL + 1, renewed
    logs = _axis(work, "logs", "job")
    assert logs.returncode == 0 and logs.stdout == f"started on {host}\n", logs

    wait_for(lambda: _claim(work).get("phase") == "Succeeded", 30, "the job's end to be recorded")
    ended = time.time()
    done = _claim(work)
    assert done["host"] is None and done["expires"] is None  # the lease was released
    assert done["job"]["exitCode"] == 0 and done["job"]["state"] == "Succeeded", done
    assert query(work.state, "SELECT count(*) FROM leases") == [(0,)]
    reasons = [reason for reason, _ in _events(work)]
    assert "JobStarted" in reasons and reasons.count("Renewed") >= 3, reasons
    assert reasons[-2:] == ["JobSucceeded", "Released"], reasons
    assert _axis(work, "logs", "job").stdout == f"started on {host}\ndone\n"
    followed, _ = follow.communicate(timeout=15)  # `logs -f` ended with the job
    assert (follow.returncode, followed) == (0, f"started on {host}\ndone\n")
    described = _axis(work, "describe", "claim", "job").stdout
    assert "Phase:        Succeeded" in described and "Exit code:  0" in described, described
    say(f"\ndetached job: ended 15s after start, recorded {ended - t0 - 15:.1f}s later; "
        f"{reasons.count('Renewed')} renewals of a {TTL}s lease")


def test_axis_stop_ends_the_job_and_releases_its_lease(fleet, work):
    job_id, host = _detach(work, "sh -c 'echo tick; exec sleep 300'")
    wait_for(lambda: _axis(work, "logs", "job").stdout == "tick\n", 10, "the job's first output")
    stopped = _axis(work, "stop", "job")
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout.startswith("claim/job Stopped: stopped by `axis stop`"), stopped.stdout
    assert not _running_on_host(fleet, host, job_id)
    status = _claim(work)
    assert status["phase"] == "Stopped" and status["host"] is None, status
    assert query(work.state, "SELECT count(*) FROM leases") == [(0,)]
    again = _axis(work, "stop", "job")
    assert again.returncode == 1 and "claim 'job' has no running detached job" in again.stderr


def test_a_job_over_its_claims_memory_is_killed_and_the_claim_says_oomkilled(fleet, work):
    job_id, host = _detach(work, "python3", "-c", "import time; b = bytearray(384 << 20); time.sleep(30)")
    wait_for(lambda: _claim(work).get("phase") == "OOMKilled", 30, "the overrun to be recorded")
    status = _claim(work)
    assert status["job"]["exitCode"] == 137, status
    assert status["job"]["message"].startswith("killed: used more than its claim's memory ("), status
    assert status["job"]["message"].endswith(" of 128.0Mi)"), status
    assert ("OOMKilled", f"job {job_id} on {host}: {status['job']['message']}") in _events(work)
    assert not _running_on_host(fleet, host, job_id)


def test_a_job_whose_lease_was_released_is_stopped_by_the_controller(fleet, work):
    job_id, host = _detach(work, "sleep 300")
    released = _axis(work, "release", "job")
    assert released.returncode == 0, released.stderr
    wait_for(lambda: query(work.state, "SELECT state FROM jobs WHERE job_id=?", job_id) == [("Stopped",)], 20,
             "the controller to stop the job")
    assert not _running_on_host(fleet, host, job_id)
    status = _claim(work)
    assert status["phase"] == "Released" and status["job"]["message"].startswith("stopped by the controller"), status


def test_in_a_systemd_service_that_caps_nothing_the_watchdog_caps_the_job_and_the_controller_follows_it(
        fleet, work, fake_memory_controller):
    for host in fleet.hosts:  # every host: `axis renew` may place the claim on another one
        fake_memory_controller(host)
    eater, _ = _detach(work, "python3", "-c", "import time; b = bytearray(384 << 20); time.sleep(30)")
    started = _axis(work, "get", "events", "-o", "json")
    unit = f"axis-job-{eater}.service"
    # the job's start event, not necessarily the last one: the controller may have seen the job killed already
    begun = [e["message"] for e in json.loads(started.stdout)["items"] if e["reason"] == "JobStarted"]
    assert len(begun) == 1 and (f"memory cap: watchdog systemd accepted MemoryMax but its cgroup /system.slice/{unit} "
                                f"enforces no limit (memory.max: absent)") in begun[0], started.stdout
    wait_for(lambda: _claim(work).get("phase") == "OOMKilled", 30, "the overrun in the service to be recorded")
    assert _claim(work)["job"]["exitCode"] == 137
    [(eater_host,)] = query(work.state, "SELECT host FROM jobs WHERE job_id=?", eater)
    failed = _host(fleet, eater_host)  # its end recorded: the failed service reset, its directory kept for logs
    wait_for(lambda: failed.exec(f"systemctl show -p LoadState --value {unit}").stdout == "not-found\n", 10,
             "the controller to reset the failed service")
    assert failed.exec(f"test -f /root/.axis/jobs/{eater}/exit", check=False).returncode == 0

    assert _axis(work, "renew", "job").returncode == 0
    sleeper, name = _detach(work, "sh", "-c", "echo in $(sed -n 's/^0:://p' /proc/self/cgroup); exec sleep 300")
    host = _host(fleet, name)
    assert host.exec(f"systemctl is-active axis-job-{sleeper}.service").stdout == "active\n"
    wait_for(lambda: _axis(work, "logs", "job").stdout != "", 10, "the service's output in the job's log")
    assert _axis(work, "logs", "job").stdout == f"in /system.slice/axis-job-{sleeper}.service\n"
    stopped = _axis(work, "stop", "job")
    assert stopped.stdout.startswith("claim/job Stopped: stopped by `axis stop`"), stopped.stdout + stopped.stderr
    assert host.exec(f"systemctl is-active axis-job-{sleeper}.service", check=False).stdout != "active\n"
