"""The job runner's behaviour on this machine (a POSIX sh with setsid, ps and /proc: the
watchdog path): what a job leaves behind ends with it, pages a fork shares are counted once, the
job sees the caller's environment, and the commands around a job (stop, logs, forget) act on
that job only."""

from __future__ import annotations

import os
import signal
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from axis.drivers.jobs.protocol import (Job, forget_command, job_state_command, jobs_state_command, logs_command,
                                        runner_command, split_job_states, stop_command)
from axis.drivers.jobs.state import parse_job_state


def _sh(command: str, stdin: str, home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """The start command as an SSH session runs it: SIGHUP at its default, as sshd leaves it (a
    shell cannot un-ignore a signal ignored on entry, so a test run under `nohup` would otherwise
    hand the job an ignored SIGHUP that no runner could undo)."""
    return subprocess.run(["sh", "-c", command], input=stdin, capture_output=True, text=True, timeout=60,
                          env={"HOME": str(home), "PATH": os.environ["PATH"], **env},
                          preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL))


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _job_dir(home: Path, job: Job) -> Path:
    return home / ".axis" / "jobs" / job.id


def test_what_a_job_leaves_in_its_group_ends_when_its_first_process_exits(tmp_path):
    """A background child would otherwise run on, unwatched and without a lease."""
    job = Job.new("eval", "sleep 30 >/dev/null 2>&1 & echo started")
    began = time.monotonic()
    run = _sh(*runner_command(job, cap=2**30, mode="watchdog", detach=False), tmp_path)
    assert (run.returncode, run.stdout) == (0, "started\n") and time.monotonic() - began < 10
    state = parse_job_state(_sh(job_state_command(job.id), "", tmp_path).stdout)
    assert (state.running, state.exit) == (False, 0) and state.pgid and not _group_alive(state.pgid)


def test_a_forking_job_sharing_its_pages_under_its_cap_is_not_killed(tmp_path):
    """100 MiB written, then shared by three forks: 400 MiB of resident sizes summed, 100 MiB of
    proportional shares; a 250 MiB cap holds."""
    code = ("import os, time\nb = bytearray(b'x') * (100 << 20)\nfor _ in range(3):\n"
            "    if os.fork() == 0:\n        time.sleep(3)\n        os._exit(0)\n"
            "for _ in range(3):\n    os.wait()\nprint('done')\n")
    job = Job.new("eval", f"{shlex.quote(sys.executable)} -c {shlex.quote(code)}")
    run = _sh(*runner_command(job, cap=250 << 20, mode="watchdog", detach=False), tmp_path)
    state = parse_job_state(_sh(job_state_command(job.id), "", tmp_path).stdout)
    assert (run.returncode, run.stdout, state.oom_killed) == (0, "done\n", False), (run.stderr, state)


def test_stop_signals_nothing_once_the_job_has_ended(tmp_path):
    """Its group id may belong to another group of the same user by then."""
    job = Job.new("eval", "true")
    assert _sh(*runner_command(job, cap=2**30, mode="watchdog", detach=False), tmp_path).returncode == 0
    other = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        (_job_dir(tmp_path, job) / "pgid").write_text(f"{other.pid}\n")  # the id, reused
        assert _sh(stop_command(job.id), "", tmp_path).returncode == 0
        time.sleep(0.5)
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()


def test_the_job_sees_the_callers_locale_path_and_the_default_sighup(tmp_path):
    line = 'printf "%s\\n" "${LC_ALL-unset}" "$PATH"; sed -n "s/^SigIgn:[[:space:]]*//p" /proc/$$/status'
    path = os.environ["PATH"] + ":/opt/axis-test/bin"
    job = Job.new("eval", line)
    run = _sh(*runner_command(job, cap=2**30, mode="watchdog", detach=False), tmp_path, PATH=path, LC_ALL="C.UTF-8")
    locale, seen_path, ignored = run.stdout.split("\n")[:3]
    assert (locale, seen_path) == ("C.UTF-8", path) and not int(ignored, 16) & 1, run.stdout
    detached = Job.new("eval", line)  # its supervisor ignores SIGHUP; the job must not
    assert _sh(*runner_command(detached, cap=2**30, mode="watchdog", detach=True), tmp_path, PATH=path).returncode == 0
    for _ in range(40):
        if (_job_dir(tmp_path, detached) / "exit").exists():
            break
        time.sleep(0.25)
    locale, seen_path, ignored = (_job_dir(tmp_path, detached) / "log").read_text().split("\n")[:3]
    assert (locale, seen_path) == ("unset", path) and not int(ignored, 16) & 1


def test_following_the_log_of_a_job_whose_runner_died_ends(tmp_path):
    """A runner killed with its job (a service's OOMPolicy=kill) writes no `exit`."""
    job = Job.new("eval", "true")
    gone = subprocess.Popen(["true"], start_new_session=True)
    gone.wait()
    directory = _job_dir(tmp_path, job)
    directory.mkdir(parents=True)
    (directory / "log").write_text("partial\n")
    (directory / "pgid").write_text(f"{gone.pid}\n")
    assert _sh(logs_command(job.id, True), "", tmp_path).stdout == "partial\n"


@pytest.mark.parametrize("sudo", [False, True])
def test_forget_resets_a_unit_through_sudo_only_where_the_hosts_spec_allows_it(tmp_path, sudo):
    job = Job.new("eval", "true")
    directory = _job_dir(tmp_path, job)
    directory.mkdir(parents=True)
    (directory / "unit").write_text(f"axis-job-{job.id}.service\n")  # a file the job could write
    (directory / "exit").write_text("0\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    for name, body in {"id": "echo 1000", "sudo": f'echo "sudo $*" >> {calls}',
                       "systemctl": f'echo "systemctl $*" >> {calls}'}.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    run = _sh(forget_command(job.id, sudo=sudo), "", tmp_path, PATH=f"{bin_dir}:{os.environ['PATH']}")
    assert run.returncode == 0 and not directory.exists()
    said = calls.read_text() if calls.exists() else ""
    assert said == (f"sudo -n systemctl reset-failed axis-job-{job.id}.service\n" if sudo else "")


def test_one_command_reads_every_job_of_a_host_as_the_single_reads_do(tmp_path):
    """The jobs pass reads all of a host's jobs in one round trip; each block is what that job's
    own state command prints, and a file's first line cannot start a block of its own."""
    ended, forged = Job.new("eval", "true"), Job.new("train", "true")
    for job, exit_line in ((ended, "0"), (forged, f"1\njob={ended.id}\nrunning=1")):
        directory = _job_dir(tmp_path, job)
        directory.mkdir(parents=True)
        (directory / "exit").write_text(exit_line + "\n")
        (directory / "ended").write_text("1700000009\n")
    gone = Job.new("lost", "true")  # no directory on this host
    states = split_job_states(_sh(jobs_state_command([ended.id, forged.id, gone.id]), "", tmp_path).stdout)
    assert set(states) == {ended.id, forged.id, gone.id}
    for job in (ended, forged, gone):
        assert states[job.id] == _sh(job_state_command(job.id), "", tmp_path).stdout.rstrip("\n")
    assert parse_job_state(states[forged.id]).exit == 1 and not parse_job_state(states[ended.id]).running
    assert parse_job_state(states[gone.id]).missing
