"""Faults on real hosts (issue 10): sshd killed in the middle of an apply, a frozen and a slow
host bounded by timeouts, a full disk, a host key that changes between two applies."""

from __future__ import annotations

import contextlib
import json
import math
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from axis.drivers.features.cleanup_script import SCRIPT_PATH as CLEANUP
from axis.drivers.features.panic_recovery import PATH as PANIC_CONF
from axis.drivers.features.watchdog import MODULES as WATCHDOG_MODULES, SYSTEM as WATCHDOG_SYSTEM
from tests.integration.fleetspecs import fleet_axis, host_specs, host_views, say
from tests.integration.hostreset import hosts_reset

pytestmark = pytest.mark.hosts

MANAGED = [PANIC_CONF, WATCHDOG_MODULES, WATCHDOG_SYSTEM, CLEANUP]
SEVERAL = "{panicRecovery: {panicSeconds: 7}, watchdog: {timeoutSeconds: 30}, diskCleanup: {retentionDays: 9}}"
FILL = "/var/axis-fill"
DELAY_PORT = 2022


@pytest.fixture
def clean(fleet):
    with hosts_reset(fleet, f"rm -f {' '.join(MANAGED)} {FILL}; "
                            "find /etc /var/lib/axis -name '.axis-tmp.*' -delete 2>/dev/null; true"):
        yield


def _contents(host) -> dict[str, str | None]:
    out = {}
    for path in MANAGED:
        r = host.exec(f"cat {path}", check=False)
        out[path] = r.stdout if r.returncode == 0 else None
    return out


def _leftovers(host) -> str:
    return host.exec("find / -xdev -name '.axis-tmp.*' 2>/dev/null; true").stdout.strip()


def test_sshd_killed_mid_apply_fails_that_host_alone_and_nothing_is_half_written(fleet, axis, specs, clean):
    """sshd (listener and every session) is killed on one host the moment its first managed file
    lands: that host fails with a reason, the others converge, the next apply finishes it, and
    every managed file is either absent (old) or complete (new), with no temp file left."""
    run = fleet_axis(fleet, axis)
    victim = fleet.hosts[0]
    spec = specs({"hosts.yaml": host_specs(fleet, features=SEVERAL)})
    trigger = " -o ".join(f"-e {p}" for p in MANAGED)
    # a watcher inside the host: as soon as any managed file exists, kill -9 all of sshd
    victim.exec(f"nohup sh -c 'for i in $(seq 600); do if [ {trigger} ]; then pkill -9 -x sshd; "
                f"systemctl stop ssh.socket ssh.service 2>/dev/null; exit; fi; sleep 0.02; done' "
                ">/dev/null 2>&1 &")
    started = time.monotonic()
    first = run("apply", "-f", str(spec), "-o", "json")
    elapsed = time.monotonic() - started
    hosts = host_views(first)
    say(f"killed mid-apply: {elapsed:.1f}s, {victim.name}: {hosts[victim.name].get('reason')!r}")
    assert first.code == 1, first.out + first.err
    assert hosts[victim.name]["status"] == "failed"
    assert victim.name in hosts[victim.name]["reason"] and hosts[victim.name]["reason"].strip()
    assert all(hosts[h.name]["status"] == "changed" for h in fleet.hosts if h is not victim), hosts
    midway = _contents(victim)
    assert any(v is not None for v in midway.values()), "the kill came before any file was written"

    victim.heal()
    assert victim.banner(timeout=5)
    second = run("apply", "-f", str(spec), "-o", "json")
    assert second.code == 0, second.out + second.err
    assert host_views(second)[victim.name]["status"] == "changed"
    final = _contents(victim)
    assert all(v is not None and "# managed by axis" in v[:200] for v in final.values()), final
    for path, text in midway.items():
        assert text is None or text == final[path], f"{path} was half-written: {text!r}"
    assert _leftovers(victim) == ""
    assert final == _contents(fleet.hosts[1])  # same spec, same files as a host never hurt
    assert run("diff", "-f", str(spec)).code == 0


def _netem(host) -> str | None:
    """Add 2 s latency on the host's eth0; None if done, else why it cannot be done here."""
    r = host.exec("tc qdisc replace dev eth0 root netem delay 2000ms", check=False)
    if r.returncode != 0:
        return (r.stderr or r.stdout).strip() or f"tc exited {r.returncode}"
    return None


@contextlib.contextmanager
def _slowed(host) -> Iterator[tuple[int | None, str]]:
    """2 s of latency in front of the host's sshd: netem on its eth0 where the kernel has it,
    else the delaying proxy (tests/sshhosts/delayproxy.py) in its netns on DELAY_PORT.
    Yields the port a spec must use (None: the usual one) and how the delay was made."""
    why = _netem(host)
    if why is None:
        try:
            yield None, "tc netem"
        finally:
            host.exec("tc qdisc del dev eth0 root", check=False)
        return
    proxy = subprocess.Popen(["nsenter", f"--net=/run/netns/{host.name}", sys.executable, "-m",
                              "tests.sshhosts.delayproxy", "--listen", f"0.0.0.0:{DELAY_PORT}",
                              "--to", f"127.0.0.1:{host.port}", "--delay", "2"],
                             cwd=Path(__file__).resolve().parents[2], stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection((host.address, DELAY_PORT), timeout=0.5).close()
                break
            except OSError:
                assert proxy.poll() is None and time.monotonic() < deadline, "the delaying proxy did not start"
                time.sleep(0.1)
        started = time.monotonic()  # a slow link, not a dead one: sshd's banner comes 2 s late
        with socket.create_connection((host.address, DELAY_PORT), timeout=30) as probe:
            assert probe.recv(64).startswith(b"SSH-")
        # the delay is there (a loaded machine can only add to it; the banner came, so not dead)
        assert time.monotonic() - started >= 1.9, time.monotonic() - started
        yield DELAY_PORT, f"a delaying TCP proxy (no netem here: {why})"
    finally:
        proxy.kill()
        proxy.wait()


def _finished(state_db: Path, after: int) -> dict[str, float]:
    """host → wall-clock time its observation was made (the end of its part of the pass), for
    the observations stored after row `after`."""
    db = sqlite3.connect(state_db)
    try:
        return dict(db.execute("SELECT host, collected_at FROM facts WHERE id > ?", (after,)).fetchall())
    finally:
        db.close()


def _last_row(state_db: Path) -> int:
    db = sqlite3.connect(state_db)
    try:
        return db.execute("SELECT coalesce(max(id), 0) FROM facts").fetchone()[0]
    finally:
        db.close()


def test_frozen_host_times_out_without_slowing_the_fleet(fleet, axis, specs, clean, state_db):
    """A frozen host (TCP connects, no SSH banner) fails when its connect timeout fires, and the
    others do not wait for it. Measured as what it means, not as wall-clock windows (the machine
    may be loaded): which timeout fired (its reason), that it waited for it (its own duration),
    and that no host waited for it to start or finish (order and start times of each host's part)."""
    run = fleet_axis(fleet, axis)
    frozen = fleet.hosts[0]
    others = [h for h in fleet.hosts if h is not frozen]
    spec = specs({"hosts.yaml": host_specs(fleet, features="{panicRecovery: {panicSeconds: 7}}")})
    assert run("apply", "--no-converge", "-f", str(spec)).code == 0
    started = time.monotonic()
    assert run("status", "-o", "json").code == 0
    baseline = time.monotonic() - started
    # a connect timeout well above what a whole healthy status takes on this machine now, so that
    # "the healthy hosts were done before it fired" holds however loaded the machine is
    timeout = max(4, math.ceil(3 * baseline))

    frozen.freeze()
    try:
        row = _last_row(state_db)
        began = time.time()
        status = run("--connect-timeout", str(timeout), "status", "--timeout", str(timeout + 2), "-o", "json")
        status_done = _finished(state_db, row)
        hosts = host_views(status)
        row = _last_row(state_db)
        began_apply = time.time()
        apply = run("--connect-timeout", str(timeout), "apply", "-f", str(spec), "-o", "json")
        apply_done = _finished(state_db, row)
        applied = host_views(apply)
    finally:
        frozen.thaw()
    say(f"status: baseline {baseline:.1f}s, connect timeout {timeout}s, frozen host failed after "
         f"{status_done[frozen.name] - began:.1f}s ({hosts[frozen.name]['reason']!r}), the others after "
         f"{max(status_done[h.name] for h in others) - began:.1f}s; apply: {applied[frozen.name]['reason']!r}")

    # status: the connect timeout fired (not the command timeout, not keepalive), after its time
    assert hosts[frozen.name]["status"] in ("unreachable", "error")
    assert "timed out" in hosts[frozen.name]["reason"] and f"within {timeout}s" in hosts[frozen.name]["reason"]
    assert status_done[frozen.name] - began >= timeout - 0.1
    assert all(hosts[h.name]["status"] == "complete" for h in others)
    # the others were observed before it timed out: they never waited for it (it comes first)
    assert max(status_done[h.name] for h in others) < status_done[frozen.name], status_done

    # apply: the frozen host fails the same way; every other host's pass began with it, not after
    assert apply.code == 1 and applied[frozen.name]["status"] == "failed"
    assert "timed out" in applied[frozen.name]["reason"] and f"within {timeout}s" in applied[frozen.name]["reason"]
    assert applied[frozen.name]["seconds"] >= timeout - 0.1
    assert all(applied[h.name]["status"] == "changed" for h in others)
    starts = {name: apply_done[name] - applied[name]["seconds"] for name in applied}
    assert all(start >= began_apply - 0.1 for start in starts.values()), (began_apply, starts)
    assert max(starts.values()) - min(starts.values()) < timeout, starts  # one after another: >= timeout
    assert frozen.exec(f"test -e {PANIC_CONF}", check=False).returncode == 1


def test_frozen_and_slow_hosts_time_out_together(fleet, axis, specs, clean, state_db):
    """A frozen host and one with 2 s of added latency (tc netem, or a delaying proxy where the
    kernel has no netem) time out in parallel: each after its connect timeout, at about the same
    moment (one after the other, their failures would be a connect timeout apart)."""
    run = fleet_axis(fleet, axis)
    frozen, slow = fleet.hosts[0], fleet.hosts[1]
    timeout = 4  # the slow host cannot finish its handshake (several round trips of 4 s) in it
    with _slowed(slow) as (port, how):
        spec = host_specs(fleet, ports={slow.name: port} if port else None)
        assert run("apply", "--no-converge", "-f", str(specs({"hosts.yaml": spec}))).code == 0
        try:
            frozen.freeze()
            row = _last_row(state_db)
            began = time.time()
            status = run("--connect-timeout", str(timeout), "status", "--timeout", "6", "-o", "json")
            done = _finished(state_db, row)
        finally:
            frozen.thaw()
    hosts = host_views(status)
    say(f"frozen + slow ({how}): failed after {done[frozen.name] - began:.1f}s and {done[slow.name] - began:.1f}s; "
         f"{hosts[frozen.name]['reason']!r}, {hosts[slow.name]['reason']!r}")
    for host in (frozen, slow):
        assert "timed out" in hosts[host.name]["reason"]
        assert done[host.name] - began >= timeout - 0.1  # it waited for its timeout
    assert hosts[fleet.hosts[2].name]["status"] == "complete"
    assert abs(done[frozen.name] - done[slow.name]) < timeout, done  # together, not in turn


def test_full_disk_fails_with_a_clear_reason_and_nothing_half_written(fleet, axis, specs, clean):
    run = fleet_axis(fleet, axis)
    full = fleet.hosts[0]
    spec = specs({"hosts.yaml": host_specs(fleet, features="{diskCleanup: {retentionDays: 9}}")})
    try:
        full.exec(f"fallocate -l $(df --output=avail -B1 / | tail -1) {FILL} 2>/dev/null; "
                  f"dd if=/dev/zero of={FILL}.rest bs=64k 2>/dev/null; dd if=/dev/zero of={FILL}.4k bs=4k 2>/dev/null; "
                  f"sync; true", timeout=300)
        free = full.exec("df --output=avail -B1 / | tail -1").stdout.strip()
        r = run("apply", "-f", str(spec), "-o", "json")
        view = json.loads(run("get", "hosts", full.name, "-o", "json").out)
        leftovers = _leftovers(full)
        written = full.exec(f"cat {CLEANUP}", check=False)
    finally:
        full.exec(f"rm -f {FILL} {FILL}.rest {FILL}.4k")
    hosts = host_views(r)
    say(f"full disk (avail {free}): {hosts[full.name].get('reason')!r}")
    assert r.code == 1
    assert hosts[full.name]["status"] == "failed"
    assert "No space left on device" in hosts[full.name]["reason"] and CLEANUP in hosts[full.name]["reason"]
    assert all(hosts[h.name]["status"] == "changed" for h in fleet.hosts if h is not full)
    converged = {c["type"]: c for c in view["status"]["conditions"]}["Converged"]
    assert converged["status"] == "False" and "No space left on device" in converged["message"], converged
    events = json.loads(run("get", "events", "-o", "json").out)["items"]
    assert any(e["object"] == f"Host/{full.name}" and e["type"] == "Warning"
               and "No space left on device" in e.get("message", "") for e in events), events[-3:]
    assert leftovers == ""
    assert written.returncode != 0 or "# managed by axis" in written.stdout[:200]
    again = run("apply", "-f", str(spec), "-o", "json")
    assert again.code == 0 and host_views(again)[full.name]["status"] == "changed", again.out
    assert "# managed by axis" in full.exec(f"cat {CLEANUP}").stdout[:200]


def test_host_key_changed_between_applies_is_refused_marked_and_recorded(fleet, axis, specs, clean):
    run = fleet_axis(fleet, axis)
    victim = fleet.hosts[2]
    spec = specs({"hosts.yaml": host_specs(fleet, features="{panicRecovery: {panicSeconds: 7}}")})
    assert run("apply", "-f", str(spec)).code == 0
    victim.exec(f"rm -f {PANIC_CONF}")
    victim.regenerate_host_keys()
    r = run("apply", "-f", str(spec), "-o", "json")
    hosts = host_views(r)
    say(f"changed host key: {hosts[victim.name]['reason']!r}")
    assert r.code == 1 and hosts[victim.name]["status"] == "failed"
    assert "host key mismatch" in hosts[victim.name]["reason"]
    assert all(hosts[h.name]["status"] == "unchanged" for h in fleet.hosts if h is not victim)
    assert victim.exec(f"test -e {PANIC_CONF}", check=False).returncode == 1  # nothing ran there
    view = json.loads(run("get", "hosts", victim.name, "-o", "json").out)
    reachable = {c["type"]: c for c in view["status"]["conditions"]}["Reachable"]
    assert reachable["status"] == "False" and "host key mismatch" in reachable["message"], reachable
    events = json.loads(run("get", "events", "-o", "json").out)["items"]
    warnings = [e for e in events if e.get("object") == f"Host/{victim.name}" and e.get("type") == "Warning"]
    assert any("host key mismatch" in e.get("message", "") for e in warnings), events[-5:]
