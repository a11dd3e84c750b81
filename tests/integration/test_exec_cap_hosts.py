"""`axis exec` capped at the claim's memory on real hosts. The test hosts run systemd, but their
cgroup v2 tree has no memory controller (this machine mounts memory on cgroup v1), so
`systemd-run -p MemoryMax=` would enforce nothing there: the facts must say `watchdog` with that
reason, and the watchdog is what caps the jobs here. A job that allocates 3x its claim is killed
alone (137, a message, an OOMKilled event) while a second job on the same host finishes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from axis.drivers.jobs.protocol import (Job, forget_command, job_state_command, logs_command, runner_command,
                                        stop_command)
from axis.drivers.jobs.state import parse_job_state
from tests.integration.fleetspecs import fleet_axis, host_specs, say

pytestmark = pytest.mark.hosts

CLAIMS = """
apiVersion: axis/v1
kind: Claim
metadata: {name: eater}
spec: {task: evaluate a model, requires: {memory: 128Mi, tools: []}, ttl: 5m}
---
apiVersion: axis/v1
kind: Claim
metadata: {name: neighbour}
spec: {task: upload the results, requires: {memory: 128Mi, tools: []}, ttl: 5m}
---
apiVersion: axis/v1
kind: Claim
metadata: {name: strict}
spec: {task: evaluate a model, requires: {memory: 128Mi, tools: [], enforcement: cgroup}}
"""
NO_MEMORY_CONTROLLER = "the cgroup v2 hierarchy has no memory controller (cgroup.controllers: empty)"
#: 3x the claim's 128Mi, every page written, then held.
EAT = "python3 -c 'b = b\"x\" * (384 << 20); import time; time.sleep(60)'; echo never reached"


@pytest.fixture
def one_host(fleet, axis, specs):
    """The fleet applied with placement allowed on its first host only: both claims go there."""
    run = fleet_axis(fleet, axis)
    first = fleet.hosts[0]
    hosts = host_specs(fleet, fanout={h.name: h is first for h in fleet.hosts})
    applied = run("apply", "-f", str(specs({"hosts.yaml": hosts, "claims.yaml": CLAIMS})), "-o", "json")
    assert applied.code == 0, applied.out + applied.err
    placed = {c["claim"]: c for c in json.loads(applied.out)["claims"]}
    assert placed["eater"]["host"] == placed["neighbour"]["host"] == first.name, placed
    return run, first


def test_the_facts_say_watchdog_because_the_cgroup_tree_has_no_memory_controller(one_host):
    run, host = one_host
    hosts = {h["metadata"]["name"]: h for h in json.loads(run("get", "hosts", "-o", "json").out)["items"]}
    assert hosts[host.name]["status"]["observed"]["summary"]["memoryEnforcement"] == f"watchdog ({NO_MEMORY_CONTROLLER})"
    described = run("describe", "host", host.name).out
    assert f"Memory cap:   watchdog ({NO_MEMORY_CONTROLLER})" in described, described
    strict = {c["metadata"]["name"]: c["status"] for c in json.loads(run("get", "claims", "-o", "json").out)["items"]}
    assert strict["strict"]["phase"] == "Pending"
    assert (f"memory enforcement is watchdog ({NO_MEMORY_CONTROLLER}); the claim requires cgroup"
            in strict["strict"]["reason"]), strict["strict"]


def test_a_job_over_its_cap_is_killed_alone_while_a_second_job_on_the_host_finishes(one_host, axis, fleet):
    run, host = one_host
    neighbour = subprocess.Popen(
        [sys.executable, "-m", "axis", "--state", str(axis.state_db), "--ssh-config", str(fleet.ssh_config),
         "exec", "neighbour", "--", "sleep 8; echo neighbour done on $(hostname)"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        started = time.monotonic()
        eaten = run("exec", "eater", "--", EAT)
        killed_after = time.monotonic() - started
        out, err = neighbour.communicate(timeout=60)
    finally:
        if neighbour.poll() is None:
            neighbour.kill()
    say(f"overrun: exit {eaten.code} after {killed_after:.1f}s; stdout {eaten.out!r}; stderr {eaten.err!r}")
    say(f"neighbour: exit {neighbour.returncode}; stdout {out!r}; stderr {err!r}")
    assert eaten.code == 137 and eaten.out == "", eaten.err
    last = eaten.err.strip().splitlines()[-1]
    assert last.startswith("axis: killed: used more than its claim's memory (") and last.endswith(" of 128.0Mi)"), eaten.err
    used_mib = float(last.split("(")[1].split("Mi of")[0])
    assert 128 < used_mib <= 400, last  # sampled past the cap, before the whole 384Mi
    assert killed_after < 20, killed_after  # sampled every 200 ms, killed well before the job's own 60 s
    assert (neighbour.returncode, out, err) == (0, f"neighbour done on {host.name}\n", "")
    events = [e for e in json.loads(run("get", "events", "-o", "json").out)["items"] if e["reason"] == "OOMKilled"]
    assert len(events) == 1 and events[0]["object"] == "Claim/eater" and events[0]["type"] == "Warning", events
    assert events[0]["message"].endswith(f"on {host.name}: {last.removeprefix('axis: ')}"), events
    leftover = run("on", host.name, "--", "ls -A $HOME/.axis/jobs; ps -eo args | grep -c '[b]ytearray\\|[b]\"x\"' || true")
    assert leftover.code == 0 and leftover.out.split()[-1] == "0", leftover.out  # nothing left behind


def test_a_child_the_job_leaves_behind_ends_with_it(one_host):
    """The reviewer's case: 384Mi held by a background child of a job that exits at once would
    run on uncapped and unleased; it is stopped with the job's process group."""
    run, host = one_host
    r = run("exec", "eater", "--", "python3 -c 'b = b\"x\" * (384 << 20); import time; time.sleep(61)' & echo started")
    assert (r.code, r.out) == (0, "started\n"), r.err
    left = run("on", host.name, "--", "ps -eo args | grep -c '[t]ime.sleep(61)' || true")
    assert left.code == 0 and left.out.split()[-1] == "0", left.out


def test_no_cap_runs_uncapped_and_says_so(one_host):
    run, _ = one_host
    r = run("exec", "--no-cap", "eater", "--", "python3 -c 'b = b\"x\" * (384 << 20); print(len(b) >> 20)'")
    assert (r.code, r.out) == (0, "384\n"), r.err
    assert r.err == "axis: --no-cap: claim eater's memory is not enforced; running without a cap\n"


def _ssh(fleet, host, user: str, command: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ssh", "-F", str(fleet.ssh_config), "-l", user, host.name, command], input=stdin,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def fooled(fleet, fake_memory_controller):
    """The last host, its memory controller faked (conftest's `fake_memory_controller`)."""
    return fake_memory_controller(fleet.hosts[-1])


@pytest.mark.parametrize("user", ["root", "ops"])  # ops: systemd-run through sudo -n, the job as ops
def test_a_unit_that_enforces_nothing_is_caught_before_the_job_starts(fleet, fooled, user):
    """The runner asked for cgroup mode starts the job in a real transient scope; inside, before
    the job runs, it finds no memory.max in its cgroup, records why, and caps it with the
    watchdog instead: the overrun is still killed, and no cgroup cap is ever reported."""
    job = Job.new("eater", "id -un; pwd; echo $HOME; " + EAT)
    command, stdin = runner_command(job, cap=128 << 20, mode="cgroup", detach=False, sudo=True)
    ran = _ssh(fleet, fooled, user, command, stdin)
    state = parse_job_state(_ssh(fleet, fooled, user, job_state_command(job.id)).stdout)
    say(f"cgroup trap as {user}: exit {ran.returncode}, stdout {ran.stdout!r}, state {state}")
    home = "/root" if user == "root" else f"/home/{user}"
    assert (ran.returncode, ran.stdout) == (137, f"{user}\n{home}\n{home}\n"), ran.stderr
    assert state.oom_killed and state.exit == 137 and state.unit == f"axis-job-{job.id}.scope"
    assert state.enforcement_mode == "watchdog", state
    assert state.enforcement_reason.startswith("systemd accepted MemoryMax but its cgroup /system.slice/axis-job-"), state
    assert state.enforcement_reason.endswith("enforces no limit (memory.max: absent)"), state
    assert _ssh(fleet, fooled, user, forget_command(job.id)).returncode == 0


@pytest.mark.parametrize("detach", [False, True])
def test_a_strict_job_is_refused_when_its_unit_enforces_nothing(fleet, fooled, detach):
    """A claim that requires cgroup enforcement: the runner inside the real scope or service
    finds no memory.max and refuses the job (125, never started) instead of watching it."""
    job = Job.new("eval", "echo never")
    command, stdin = runner_command(job, cap=128 << 20, mode="cgroup", detach=detach, sudo=True, strict=True)
    ran = _ssh(fleet, fooled, "ops", command, stdin)
    state = parse_job_state(_ssh(fleet, fooled, "ops", job_state_command(job.id)).stdout)
    say(f"strict ({'service' if detach else 'scope'}): exit {ran.returncode}, state {state}")
    assert (ran.returncode, ran.stdout) == (125, ""), ran.stderr
    assert (state.running, state.exit, state.pgid, state.enforcement_mode) == (False, 125, None, "none"), state
    assert state.enforcement_reason.startswith("the claim requires cgroup enforcement: systemd accepted MemoryMax"), state
    assert _ssh(fleet, fooled, "ops", forget_command(job.id, sudo=True)).returncode == 0


@pytest.mark.parametrize("where", ["watchdog", "service"])
def test_a_detached_job_outlives_its_connection_logs_and_stops(fleet, fooled, where):
    """The protocol's detached start (helper commands for `axis exec --detach`): the ssh client
    returns at once, the job runs on (in a supervisor of its own, or in a transient service
    whose runner falls back to the watchdog here), its log is read, and stop ends it."""
    job = Job.new("eval", "echo started as $(id -un) in $(pwd); sleep 60; echo never")
    command, stdin = runner_command(job, cap=128 << 20, mode="watchdog" if where == "watchdog" else "cgroup",
                                    detach=True, sudo=True)
    began = time.monotonic()
    start = _ssh(fleet, fooled, "ops", command, stdin)
    assert (start.returncode, start.stdout, start.stderr) == (0, "", "") and time.monotonic() - began < 10
    time.sleep(1)
    state = parse_job_state(_ssh(fleet, fooled, "ops", job_state_command(job.id)).stdout)
    assert state.running and state.exit is None and state.enforcement_mode == "watchdog", state
    assert state.unit == (f"axis-job-{job.id}.service" if where == "service" else None), state
    assert _ssh(fleet, fooled, "ops", logs_command(job.id, False)).stdout == "started as ops in /home/ops\n"
    assert _ssh(fleet, fooled, "ops", stop_command(job.id)).returncode == 0
    ended = parse_job_state(_ssh(fleet, fooled, "ops", job_state_command(job.id)).stdout)
    say(f"detached ({where}): {state} -> {ended}")
    assert (ended.running, ended.exit, ended.oom_killed) == (False, 143, False), ended
    following = _ssh(fleet, fooled, "ops", logs_command(job.id, True))
    assert following.stdout == "started as ops in /home/ops\n"  # -f ends with the job
    assert _ssh(fleet, fooled, "ops", forget_command(job.id, sudo=True)).returncode == 0
    gone = _ssh(fleet, fooled, "ops", f"ls -d .axis/jobs/{job.id}; systemctl show -p LoadState --value "
                                      f"axis-job-{job.id}.service")
    assert gone.stdout == "not-found\n", gone  # no directory, no failed unit left behind
