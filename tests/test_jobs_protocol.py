"""The job protocol: commands quote every value, the runner really runs here (a POSIX sh with
setsid and ps: the watchdog path), and the state parser reads hostile text and the kernel's
own words (captured `systemctl show` and `memory.events` of a cgroup v2 unit) without raising."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from axis.drivers.jobs.protocol import (RUNNER, Job, forget_command, job_state_command, logs_command, runner_command,
                                        stop_command)
from axis.drivers.jobs.state import JobState, parse_job_state, parse_memory_events, parse_systemctl_show

HOSTILE = "echo \"it's\" $HOME `id` $(id) ; rm -rf / # \n'\"\\"

#: `systemctl show -p Result -p ActiveState -p MemoryMax -p ControlGroup axis-job-….scope` from
#: inside a running `systemd-run --scope -p MemoryMax=134217728` on a test host (captured,
#: systemd 252): the unit reports the MemoryMax that its cgroup, lacking the memory controller,
#: does not enforce.
SHOW_RUNNING = """Result=success
ControlGroup=/system.slice/axis-job-eval-0123456789ab.scope
MemoryMax=134217728
ActiveState=active
"""
#: The same unit after the kernel OOM-killed it, as systemd.exec(5) names the result: built from
#: the capture above (no host here enforces a cgroup memory limit to capture it from).
SHOW_OOM = SHOW_RUNNING.replace("Result=success", "Result=oom-kill").replace("=active", "=failed")
#: A cgroup v2 memory.events after one kill (the lent VM's capture, t4-device-cgroup-cap.txt).
EVENTS_OOM = "low 0\nhigh 0\nmax 42\noom 1\noom_kill 1\noom_group_kill 0\n"


def _sh(command: str, stdin: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {"HOME": str(home), "PATH": os.environ["PATH"]}
    return subprocess.run(["sh", "-c", command], input=stdin, capture_output=True, text=True, env=env, timeout=60)


def test_every_value_is_one_quoted_argument_of_a_fixed_script():
    job = Job.new("eval", HOSTILE)
    command, stdin = runner_command(job, cap=2**30, mode="watchdog", detach=False, sudo=True)
    assert stdin == RUNNER and not stdin.startswith("# shellcheck")
    words = shlex.split(command)
    assert words[:2] == ["sh", "-c"] and words[3] == "axis-job"
    assert words[4:] == [job.id, str(2**30), "watchdog", "0", "1", "0", HOSTILE]
    assert shlex.split(runner_command(job, cap=1, mode="cgroup", detach=True, strict=True)[0])[4:] == [
        job.id, "1", "cgroup", "1", "0", "1", HOSTILE]
    assert shlex.split(forget_command(job.id, sudo=True))[5:] == ["1"]
    for make in (job_state_command, stop_command, forget_command, lambda i: logs_command(i, True)):
        assert shlex.split(make(job.id))[4] == job.id


def test_job_ids_are_claim_names_with_twelve_hex_digits_and_nothing_else():
    assert Job.new("llm-eval", "true").id.startswith("llm-eval-")
    for bad in ("../x-0123456789ab", "x-0123456789abc", "X-0123456789ab", "x 0123456789ab", "$(id)-0123456789ab"):
        with pytest.raises(ValueError):
            job_state_command(bad)
    with pytest.raises(ValueError):
        runner_command(Job.new("x", "true"), cap=-1, mode="none", detach=False)


def test_the_runner_runs_a_job_capped_by_the_watchdog_and_reports_after_it_ended(tmp_path):
    job = Job.new("eval", "echo out; echo \"it's\" >&2; exit 4")
    run = _sh(*runner_command(job, cap=2**30, mode="watchdog", detach=False), tmp_path)
    assert (run.returncode, run.stdout, run.stderr) == (4, "out\n", "it's\n")  # nothing of the runner's own
    state = parse_job_state(_sh(job_state_command(job.id), "", tmp_path).stdout)
    assert (state.running, state.exit, state.oom_killed, state.cap) == (False, 4, False, 2**30)
    assert state.enforcement_mode == "watchdog" and state.pgid and state.started and state.ended
    directory = tmp_path / ".axis" / "jobs" / job.id
    assert oct(directory.stat().st_mode & 0o777) == "0o700" and (directory / "line").read_text() == job.line
    assert _sh(forget_command(job.id), "", tmp_path).returncode == 0 and not directory.exists()
    assert parse_job_state(_sh(job_state_command(job.id), "", tmp_path).stdout) == JobState(running=False, missing=True)


def test_a_cap_that_cannot_be_enforced_does_not_start_the_job_and_no_cap_says_so(tmp_path):
    job = Job.new("eval", "echo never")
    run = _sh(*runner_command(job, cap=2**30, mode="none", detach=False), tmp_path)
    assert (run.returncode, run.stdout) == (125, "")
    state = parse_job_state(_sh(job_state_command(job.id), "", tmp_path).stdout)
    assert state.pgid is None and state.enforcement_mode == "none" and "no cap can be enforced" in state.enforcement_reason
    free = Job.new("eval", "echo free")
    assert _sh(*runner_command(free, cap=0, mode="none", detach=False), tmp_path).stdout == "free\n"
    assert parse_job_state(_sh(job_state_command(free.id), "", tmp_path).stdout).enforcement == "none uncapped (--no-cap)"


def test_cgroup_mode_falls_back_to_the_watchdog_where_systemd_cannot_cap(tmp_path):
    """This machine runs no systemd as PID 1 (or has no memory controller in cgroup v2): the
    runner must not claim a cgroup cap, and says why it used the watchdog."""
    job = Job.new("eval", "echo ran")
    assert _sh(*runner_command(job, cap=2**30, mode="cgroup", detach=False), tmp_path).stdout == "ran\n"
    state = parse_job_state(_sh(job_state_command(job.id), "", tmp_path).stdout)
    assert state.enforcement_mode == "watchdog" and state.enforcement_reason and state.unit is None


@pytest.mark.parametrize("mode", ["cgroup", "watchdog"])
def test_a_strict_job_is_refused_where_no_cgroup_cap_is_in_force(tmp_path, mode):
    """A claim that requires cgroup enforcement is not run under the watchdog instead."""
    job = Job.new("eval", "echo never")
    run = _sh(*runner_command(job, cap=2**30, mode=mode, detach=False, strict=True), tmp_path)
    assert (run.returncode, run.stdout) == (125, "")
    state = parse_job_state(_sh(job_state_command(job.id), "", tmp_path).stdout)
    assert state.pgid is None and state.enforcement_mode == "none" and state.exit == 125
    assert state.enforcement_reason.startswith("the claim requires cgroup enforcement: ")


def test_a_detached_job_runs_on_its_log_is_read_and_stop_ends_it(tmp_path):
    job = Job.new("eval", "echo started; sleep 30; echo never")
    start = _sh(*runner_command(job, cap=2**30, mode="watchdog", detach=True), tmp_path)
    assert (start.returncode, start.stdout) == (0, "")
    assert parse_job_state(_sh(job_state_command(job.id), "", tmp_path).stdout).running
    refused = _sh(forget_command(job.id), "", tmp_path)
    assert (refused.returncode, refused.stderr) == (1, f"job {job.id} is still running\n")
    assert _sh(stop_command(job.id), "", tmp_path).returncode == 0
    state = parse_job_state(_sh(job_state_command(job.id), "", tmp_path).stdout)
    assert (state.running, state.exit) == (False, 143)
    assert _sh(logs_command(job.id, True), "", tmp_path).stdout == "started\n"


def test_the_state_reads_a_killed_job_and_believes_the_kernel_over_missing_files():
    by_watchdog = parse_job_state("running=0\nexit=137\noom=402653184 134217728\nenforcement=watchdog no memory "
                                  "controller\ncap=134217728\npgid=77\nstarted=1700000000\nended=1700000003\n")
    assert (by_watchdog.oom_used, by_watchdog.oom_cap, by_watchdog.exit) == (402653184, 134217728, 137)
    # the kernel's group kill took the runner too: no exit, no oom file, the unit says it
    unit = "unit=axis-job-eval-0123456789ab.scope\n"
    killed = parse_job_state("running=0\ncap=134217728\n" + unit + "".join(f"unit.{line}\n" for line in SHOW_OOM.split()))
    assert (killed.exit, killed.oom_cap, killed.unit) == (137, 134217728, "axis-job-eval-0123456789ab.scope")
    events = "".join(f"events.{k}={v}\n" for k, v in parse_memory_events(EVENTS_OOM).items())
    assert parse_job_state("running=0\ncap=134217728\n" + unit + events).oom_killed


def test_captured_systemctl_show_and_memory_events():
    assert parse_systemctl_show(SHOW_RUNNING) == {"Result": "success", "MemoryMax": "134217728", "ActiveState": "active",
                                                  "ControlGroup": "/system.slice/axis-job-eval-0123456789ab.scope"}
    show = parse_systemctl_show(SHOW_OOM)
    assert show["Result"] == "oom-kill" and show["MemoryMax"] == "134217728"
    unit = "unit=axis-job-eval-0123456789ab.scope\n"
    running = parse_job_state("running=1\ncap=134217728\n" + unit + "".join(f"unit.{line}\n" for line in SHOW_RUNNING.split()))
    assert running.running and not running.oom_killed and running.exit is None
    assert parse_systemctl_show("MemoryMax=infinity\nResult=success\n") == {"MemoryMax": "infinity", "Result": "success"}
    assert parse_memory_events(EVENTS_OOM)["oom_kill"] == 1
    assert parse_memory_events("low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n")["oom_kill"] == 0
    assert parse_memory_events("oom_kill x\n\x00\noom_kill 9 9\n") == {}


def test_the_first_line_of_a_name_wins_and_shapes_are_checked():
    state = parse_job_state("running=1\nexit=0\nexit=137\noom=1 2 3\npgid=-1\nunit=sshd.service\nstarted=1e9\n")
    assert state.exit == 0 and not state.running  # an exit status means it ended
    assert (state.oom_cap, state.pgid, state.unit, state.started) == (None, None, None, None)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_parse_job_state_never_raises(text):
    state = parse_job_state(text)
    assert isinstance(state, JobState)
    assert parse_memory_events(text) is not None and parse_systemctl_show(text) is not None
