"""The controller loop on real hosts: converge on start, follow spec edits, survive a bad edit,
repair drift at resync, back off from a dead host, refuse a second controller, stop cleanly."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time

import pytest

from axis.drivers.features.panic_recovery import PATH as PANIC_CONF
from tests.integration.controlkit import AXIS, controller_workdir, panic_conf, wait_for
from tests.integration.fleetspecs import host_specs

pytestmark = pytest.mark.hosts

@pytest.fixture
def controller(fleet, tmp_path):
    """Start `axis controller` as a real process; yields (specs dir, state, log path, process)."""
    with controller_workdir(fleet, tmp_path) as work:
        (work.specs / "hosts.yaml").write_text(host_specs(fleet, features="{panicRecovery: {panicSeconds: 5}}"))
        yield work.specs, work.state, work.log, work.start()


def test_controller_follows_edits_repairs_drift_and_stops_cleanly(fleet, controller):
    specs_dir, state, log, proc = controller
    wait_for(lambda: all("kernel.panic = 5" in panic_conf(h) for h in fleet.hosts), 30, "first convergence")

    (specs_dir / "hosts.yaml").write_text(host_specs(fleet, features="{panicRecovery: {panicSeconds: 6}}"))
    edited = time.monotonic()
    wait_for(lambda: all("kernel.panic = 6" in panic_conf(h) for h in fleet.hosts), 20, "the edit to reach the hosts")
    print(f"\nedit to converged: {time.monotonic() - edited:.1f}s")

    (specs_dir / "broken.yaml").write_text("apiVersion: axis/v1\nkind: Host\nmetadata: {name: x}\nspec: {bogus: 1}\n")
    wait_for(lambda: "spec error:" in log.read_text(), 10, "the bad edit to be reported")
    assert f"{specs_dir / 'broken.yaml'}:4: Host/x: spec.bogus" in log.read_text() or "broken.yaml:4" in log.read_text()
    time.sleep(1)
    assert all("kernel.panic = 6" in panic_conf(h) for h in fleet.hosts)  # last good state still in force
    (specs_dir / "broken.yaml").unlink()

    victim = fleet.hosts[0]
    victim.exec(f"rm {PANIC_CONF}")
    wait_for(lambda: "kernel.panic = 6" in panic_conf(victim), 15, "drift repaired at resync")

    second = subprocess.run([*AXIS, "--state", str(state), "controller", "--watch", str(specs_dir)],
                            capture_output=True, text=True, timeout=30)
    assert second.returncode == 1 and "another axis controller" in second.stderr

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0, log.read_text()
    assert "stopped" in log.read_text()
    db = sqlite3.connect(state)
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    reasons = [r for (r,) in db.execute("SELECT reason FROM events WHERE kind='Host' AND name=?", (victim.name,))]
    assert reasons.count("Converged") >= 3  # first, the edit, the drift repair
    assert db.execute("SELECT count(*) FROM events WHERE reason='SpecInvalid'").fetchone()[0] >= 1


def test_dead_host_backs_off_while_others_converge(fleet, controller):
    specs_dir, state, log, proc = controller
    dead = fleet.hosts[1]
    dead.stop_sshd()
    alive = [h for h in fleet.hosts if h is not dead]
    wait_for(lambda: all("kernel.panic = 5" in panic_conf(h) for h in alive), 30, "the live hosts to converge")
    wait_for(lambda: "retry in 10s" in log.read_text(), 30, "a growing retry delay for the dead host")
    text = log.read_text()
    assert f"{dead.name}: failed: {dead.name}: unreachable: connection refused" in text
    assert "retry in 5s" in text.split("retry in 10s")[0]
    dead.heal()
    wait_for(lambda: "kernel.panic = 5" in panic_conf(dead), 30, "the healed host to converge after backoff")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
