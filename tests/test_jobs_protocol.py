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
from axis.drivers.facts.text import key_values
from axis.drivers.jobs.state import JobState, parse_job_state

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


def _sh(command: str, stdin: str, home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    env = {"HOME": str(home), "PATH": os.environ["PATH"], **env}
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


def _fake_root(root: Path, *, systemd: bool = True, controllers: str = "cpu io memory pids",
               unit_files: dict[str, str] | None = None) -> Path:
    """A fake run/systemd/system, sys/fs/cgroup and proc/self/cgroup (AXIS_JOB_TEST_ROOT)."""
    if systemd:
        (root / "run" / "systemd" / "system").mkdir(parents=True)
    unit = root / "sys" / "fs" / "cgroup" / "system.slice" / "axis-job-eval.scope"
    unit.mkdir(parents=True)
    (root / "sys" / "fs" / "cgroup" / "cgroup.controllers").write_text(controllers + "\n")
    for name, text in (unit_files or {}).items():
        (unit / name).write_text(text)
    (root / "proc" / "self").mkdir(parents=True)
    (root / "proc" / "self" / "cgroup").write_text("0::/system.slice/axis-job-eval.scope\n")
    return root


@pytest.mark.parametrize("systemd, controllers, why", [
    (False, "cpu io memory", "systemd is not running as PID 1"),
    (True, "cpu io pids", "the cgroup v2 hierarchy has no memory controller (cgroup.controllers: cpu io pids)"),
])
def test_cgroup_mode_falls_back_to_the_watchdog_where_systemd_cannot_cap(tmp_path, systemd, controllers, why):
    """The runner must not claim a cgroup cap, and says why it used the watchdog."""
    root = _fake_root(tmp_path / "root", systemd=systemd, controllers=controllers)
    job = Job.new("eval", "echo ran")
    run = _sh(*runner_command(job, cap=2**30, mode="cgroup", detach=False), tmp_path, AXIS_JOB_TEST_ROOT=str(root))
    assert run.stdout == "ran\n"
    state = parse_job_state(_sh(job_state_command(job.id), "", tmp_path).stdout)
    assert (state.enforcement_mode, state.enforcement_reason, state.unit) == ("watchdog", why, None)


CAP = 2**30
UNIT = "cgroup systemd unit axis-job-eval-0123456789ab, memory.max 1073741824"
CAUGHT = "systemd accepted MemoryMax but its cgroup /system.slice/axis-job-eval.scope enforces no limit"


@pytest.mark.parametrize("files, strict, enforcement, exit_status", [
    ({"memory.swap.max": "0\n"}, False, f"watchdog {CAUGHT} (memory.max: absent)", 0),
    ({"memory.max": "max\n", "memory.swap.max": "0\n"}, False, f"watchdog {CAUGHT} (memory.max: max)", 0),
    ({"memory.max": f"{2 * CAP}\n", "memory.swap.max": "0\n"}, False,
     f"watchdog the unit's memory.max is {2 * CAP}, not the cap {CAP}", 0),
    ({"memory.max": f"{CAP}\n", "memory.swap.max": "0\n"}, False, f"{UNIT}, memory.swap.max 0", 0),
    ({"memory.max": f"{CAP}\n"}, False,
     f"{UNIT}; no memory.swap.max: this kernel does not account swap, so past its cap the job may swap", 0),
    ({"memory.max": f"{CAP}\n", "memory.swap.max": "max\n"}, False,
     "watchdog the unit's memory.swap.max is max, not 0: the job could swap past its cap", 0),
    ({"memory.max": "max\n", "memory.swap.max": "0\n"}, True,
     f"none the claim requires cgroup enforcement: {CAUGHT} (memory.max: max)", 125),
])
def test_inside_the_unit_the_runner_checks_its_cgroup_before_the_job_starts(tmp_path, files, strict, enforcement,
                                                                            exit_status):
    """systemd accepts MemoryMax and MemorySwapMax where nothing enforces them: the runner reads
    its own cgroup's memory.max and memory.swap.max and reports only what is in force."""
    root = _fake_root(tmp_path / "root", unit_files=files)
    directory = tmp_path / ".axis" / "jobs" / "eval-0123456789ab"
    directory.mkdir(parents=True)
    for name, text in {"runner.sh": RUNNER, "line": "echo ran", "cap": f"{CAP}\n", "path": os.environ["PATH"]}.items():
        (directory / name).write_text(text)
    run = _sh(f"sh {directory}/runner.sh inner {directory} 0 {int(strict)}", "", tmp_path, AXIS_JOB_TEST_ROOT=str(root))
    assert (run.returncode, run.stdout) == (exit_status, "" if strict else "ran\n"), run.stderr
    assert (directory / "enforcement").read_text() == enforcement + "\n"


def test_a_kill_counted_in_the_units_memory_events_is_a_memory_kill(tmp_path):
    root = _fake_root(tmp_path / "root", unit_files={"memory.max": f"{CAP}\n", "memory.swap.max": "0\n",
                                                     "memory.events": EVENTS_OOM, "memory.peak": f"{CAP}\n"})
    directory = tmp_path / ".axis" / "jobs" / "eval-0123456789ab"
    directory.mkdir(parents=True)
    for name, text in {"runner.sh": RUNNER, "line": "exit 9", "cap": f"{CAP}\n"}.items():
        (directory / name).write_text(text)
    run = _sh(f"sh {directory}/runner.sh inner {directory} 0 0", "", tmp_path, AXIS_JOB_TEST_ROOT=str(root))
    state = parse_job_state(_sh(job_state_command("eval-0123456789ab"), "", tmp_path).stdout)
    assert (run.returncode, state.exit, state.oom_used, state.oom_cap) == (137, 137, CAP, CAP)


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
    # the runner's awk reads `oom_kill N` from the unit's memory.events: the captured file, as it prints it
    events = "".join(f"events.{k}={v}\n" for k, _, v in (line.partition(" ") for line in EVENTS_OOM.split("\n")) if k)
    assert parse_job_state("running=0\ncap=134217728\n" + unit + events).oom_killed


def test_captured_systemctl_show_and_memory_events():
    assert key_values(SHOW_RUNNING.split("\n"), sep="=") == {
        "Result": "success", "MemoryMax": "134217728", "ActiveState": "active",
        "ControlGroup": "/system.slice/axis-job-eval-0123456789ab.scope"}
    show = key_values(SHOW_OOM.split("\n"), sep="=")
    assert show["Result"] == "oom-kill" and show["MemoryMax"] == "134217728"
    unit = "unit=axis-job-eval-0123456789ab.scope\n"
    running = parse_job_state("running=1\ncap=134217728\n" + unit + "".join(f"unit.{line}\n" for line in SHOW_RUNNING.split()))
    assert running.running and not running.oom_killed and running.exit is None
    assert "oom_kill 1" in EVENTS_OOM.split("\n")  # the VM's real file: what the runner's awk counts


def test_the_first_line_of_a_name_wins_and_shapes_are_checked():
    state = parse_job_state("running=1\nexit=0\nexit=137\noom=1 2 3\npgid=-1\nunit=sshd.service\nstarted=1e9\n")
    assert state.running and state.exit is None  # its group lives: an exit status it could write is not believed
    assert (state.oom_cap, state.pgid, state.unit, state.started) == (None, None, None, None)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_parse_job_state_never_raises(text):
    state = parse_job_state(text)
    assert isinstance(state, JobState)
