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


def test_no_cap_runs_uncapped_and_says_so(one_host):
    run, _ = one_host
    r = run("exec", "--no-cap", "eater", "--", "python3 -c 'b = b\"x\" * (384 << 20); print(len(b) >> 20)'")
    assert (r.code, r.out) == (0, "384\n"), r.err
    assert r.err == "axis: --no-cap: claim eater's memory is not enforced; running without a cap\n"
