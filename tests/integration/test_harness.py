"""The test-host harness itself: real sshd hosts, reachable with OpenSSH through the generated
ssh_config, isolated from this machine, and faults that can be injected and undone."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from tests.ci import require_systemd
from tests.sshhosts import Fleet, TestHost

pytestmark = pytest.mark.hosts


def ssh(fleet: Fleet, host: TestHost, command: str, user: str | None = None,
        timeout: int = 5) -> subprocess.CompletedProcess[str]:
    """OpenSSH through the fleet's ssh_config, as a user would run it."""
    argv = ["ssh", "-F", str(fleet.ssh_config), "-o", "BatchMode=yes",
            "-o", f"ConnectTimeout={timeout}"]
    if user:
        argv += ["-l", user]
    return subprocess.run([*argv, host.name, command], capture_output=True, text=True,
                          timeout=timeout + 20)


def test_three_hosts_start_fast(fleet: Fleet) -> None:
    print(f"\n3 hosts up in {fleet.timings['hosts']:.2f}s "
          f"(base ready in {fleet.timings['base']:.2f}s), init: {[h.init for h in fleet.hosts]}")
    assert [h.name for h in fleet.hosts] == ["axis-t1", "axis-t2", "axis-t3"]
    assert len({h.address for h in fleet.hosts}) == 3
    assert len({h.init for h in fleet.hosts}) == 1, "hosts of one machine boot the same init"
    assert fleet.timings["hosts"] < 30


def test_openssh_reaches_each_host_by_its_alias(fleet: Fleet) -> None:
    for host in fleet.hosts:
        result = ssh(fleet, host, "hostname")
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == host.name


def test_writes_to_etc_stay_inside_the_host(fleet: Fleet) -> None:
    host, other = fleet.hosts[0], fleet.hosts[1]
    assert not Path("/etc/axis-probe").exists()
    result = ssh(fleet, host, "echo probe > /etc/axis-probe && cat /etc/axis-probe")
    try:
        assert result.stdout == "probe\n", result.stderr
        assert not Path("/etc/axis-probe").exists()
        assert host.root_path("/etc/axis-probe").read_text() == "probe\n"
        assert not other.root_path("/etc/axis-probe").exists()
    finally:
        host.exec("rm -f /etc/axis-probe")


def test_root_filesystem_is_the_hosts_own_disk(fleet: Fleet) -> None:
    host = fleet.hosts[0]
    source, size = host.exec("df -B1 --output=source,size / | tail -1").stdout.split()
    assert source == f"/dev/{host.name}"
    assert 1.8e9 < int(size) < 2.2e9
    real = os.statvfs("/")
    assert int(size) != real.f_blocks * real.f_frsize


def test_kernel_wide_settings_are_refused(fleet: Fleet) -> None:
    host = fleet.hosts[0]
    before = Path("/proc/sys/kernel/panic").read_text()
    result = host.exec("sysctl -w kernel.panic=77", check=False)
    assert result.returncode != 0 and "kernel.panic" in result.stderr
    assert Path("/proc/sys/kernel/panic").read_text() == before
    host.exec("hostname renamed-inside")
    try:
        assert socket.gethostname() != "renamed-inside"
    finally:
        host.exec(f"hostname {host.name}")


def test_stopped_sshd_refuses_then_recovers(fleet: Fleet) -> None:
    host = fleet.hosts[1]
    host.stop_sshd()
    refused = ssh(fleet, host, "true")
    assert refused.returncode == 255 and "Connection refused" in refused.stderr
    host.start_sshd()
    assert ssh(fleet, host, "hostname").stdout.strip() == host.name


def test_frozen_host_accepts_tcp_but_sends_no_banner(fleet: Fleet) -> None:
    host = fleet.hosts[2]
    host.freeze()
    socket.create_connection((host.address, host.port), timeout=2).close()
    assert not host.banner(timeout=0.5)
    stuck = ssh(fleet, host, "true", timeout=2)
    assert stuck.returncode == 255 and "banner exchange" in stuck.stderr
    host.thaw()
    assert ssh(fleet, host, "hostname").stdout.strip() == host.name


def test_changed_host_key_is_detected_and_healed(fleet: Fleet) -> None:
    host = fleet.hosts[2]
    host.regenerate_host_keys()
    changed = ssh(fleet, host, "true")
    assert changed.returncode == 255 and "Host key verification failed" in changed.stderr
    host.heal()
    assert ssh(fleet, host, "true").returncode == 0


def test_sudo_is_passwordless_for_ops_but_not_for_pw(fleet: Fleet) -> None:
    host = fleet.hosts[0]
    allowed = ssh(fleet, host, "sudo -n id -un", user="ops")
    assert allowed.returncode == 0 and allowed.stdout.strip() == "root", allowed.stderr
    refused = ssh(fleet, host, "sudo -n true", user="pw")
    assert refused.returncode == 1 and "a password is required" in refused.stderr


def test_systemd_manages_services_for_real(fleet: Fleet) -> None:
    host = fleet.hosts[1]
    require_systemd([host], "systemd must manage services in the hosts")
    assert host.exec("systemctl is-system-running").stdout.strip() == "running"
    host.exec("systemctl disable --now cron")
    try:
        assert host.exec("systemctl is-active cron", check=False).stdout.strip() == "inactive"
    finally:
        host.exec("systemctl enable --now cron")
    assert host.exec("systemctl is-active cron").stdout.strip() == "active"


def test_sshd_only_fallback_host(fleet: Fleet, tmp_path: Path) -> None:
    """The init used when systemd cannot boot; a second fleet beside the session's `fleet`."""
    with Fleet.start(n=1, workdir=tmp_path, prefix="axis-f", net=2, init="sshd-only") as other:
        host = other.hosts[0]
        assert host.init == "sshd-only"
        assert ssh(other, host, "hostname").stdout.strip() == "axis-f1"
        host.stop_sshd()
        assert "Connection refused" in ssh(other, host, "true").stderr
        host.start_sshd()
        assert ssh(other, host, "true").returncode == 0
    assert not Path("/run/netns/axis-f1").exists()
    assert not (tmp_path / "hosts").exists()
