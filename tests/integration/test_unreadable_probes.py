"""Issue 16 items 1 and 2 on real hosts: a root-only /etc/fstab, read by a non-root login.

Before, the probe read /etc/fstab as the login user, a failed read counted as "absent", and
with `sudo: true` axis planned `+ create /etc/fstab` holding only its swap line: the host's
fstab would have been replaced. Now the file probes run with the steps' privilege (`sudo -n`
where the host allows it): with sudo the root-only fstab is read and gets exactly axis's two
lines; without sudo (or with a sudo that wants a password) the feature fails with the host's
words and nothing at all is written. The fstab holds bytes no text round trip survives (Latin-1,
CRLF, a form feed, U+2028, no final newline): every one of them is still there afterwards, and
`swapfile: false` gives back the original file byte for byte, mode 600 included.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator

import pytest

from axis.drivers.features.swapfile import FSTAB_MARK, MARKER, SYSCTL
from tests.integration.fleetspecs import fleet_axis, host_specs, host_views
from tests.integration.hostreset import AXIS_FILES, fstab_replaced

pytestmark = pytest.mark.hosts

SWAP = "{swapfile: {size: 64M, swappiness: 20}}"
OFF = "{swapfile: false}"
HOSTILE = (b"# /etc/fstab: static file system information.\r\n"
           b"UUID=1234 /m\xe9dia ext4 defaults,nofail 0 2\r\n"
           b"\x0c\n"
           b"# page\x0cbreak \x1c sep \x85 nel \xe2\x80\xa8 ls \xff\xfe invalid\n"
           b"tmpfs\t/mnt/scratch\ttmpfs\tdefaults,noauto\t0 0")
AXIS_LINES = f"{FSTAB_MARK}\n/swapfile none swap sw 0 0".encode()


def _mode(host) -> str:
    return host.exec("stat -c '%a %U:%G' /etc/fstab").stdout.strip()


@pytest.fixture
def root_only_fstab(fleet) -> Iterator:
    """The first host with a root-only (600) /etc/fstab of odd bytes and no axis file; put back
    as it was afterwards."""
    host = fleet.hosts[0]
    with fstab_replaced(host, HOSTILE):
        host.exec("chown root:root /etc/fstab && chmod 600 /etc/fstab")
        assert host.exec("su ops -s /bin/sh -c 'cat /etc/fstab >/dev/null'", check=False).returncode != 0  # root-only
        yield host


def _untouched(host) -> None:
    assert host.root_path("/etc/fstab").read_bytes() == HOSTILE
    assert _mode(host) == "600 root:root"
    for path in AXIS_FILES:
        assert host.exec(f"test -e {shlex.quote(path)}", check=False).returncode != 0, path


def test_without_sudo_the_feature_fails_with_the_hosts_words_and_nothing_is_written(fleet, axis, specs,
                                                                                       root_only_fstab):
    host = root_only_fstab
    run = fleet_axis(fleet, axis)
    spec = specs({"hosts.yaml": host_specs(fleet, user="ops", sudo=False, features=SWAP, hosts=[host])})
    reason = "cannot read /etc/fstab: od: /etc/fstab: Permission denied (exit 1)"

    diff = run("diff", "-f", str(spec))
    assert diff.code == 1, diff.out + diff.err
    assert f"{host.name}: no change planned, 1 feature(s) FAILED" in diff.out, diff.out
    assert f"  ! swapfile: FAILED, nothing planned: {reason}" in diff.out
    assert "/etc/fstab" not in diff.out.replace(reason, "")  # no create, no update of it

    applied = run("apply", "-f", str(spec), "-o", "json")
    assert applied.code == 1, applied.out + applied.err
    view = host_views(applied)[host.name]
    assert view["status"] == "failed" and view["reason"] == f"swapfile: {reason}"
    [swap] = view["features"]
    assert (swap["state"], swap["message"], swap["error"], swap["steps"]) == ("failed", reason, reason, [])
    assert "results" not in swap
    _untouched(host)

    stored = json.loads(run("get", "hosts", host.name, "-o", "json").out)["status"]["features"]
    assert [(f["feature"], f["state"], f["reason"], f["message"]) for f in stored] == [
        ("swapfile", "failed", "ProbeFailed", reason)]


def test_a_sudo_that_asks_for_a_password_fails_the_host_and_writes_nothing(fleet, axis, specs, root_only_fstab):
    """The probes go through `sudo -n` like the steps: sudo's refusal is the host's failure, said
    in plain words, before any step (it used to surface only when the first step ran)."""
    host = root_only_fstab
    run = fleet_axis(fleet, axis)
    spec = specs({"hosts.yaml": host_specs(fleet, user="pw", sudo=True, features=SWAP, hosts=[host])})
    diff = run("diff", "-f", str(spec))
    assert diff.code == 1, diff.out + diff.err
    assert f"{host.name}: FAILED: {host.name}: sudo needs a password" in diff.out
    applied = run("apply", "-f", str(spec), "-o", "json")
    view = host_views(applied)[host.name]
    assert applied.code == 1 and view["status"] == "failed" and view["features"] == []
    assert "sudo needs a password" in view["reason"]
    _untouched(host)


def test_with_sudo_the_root_only_fstab_is_read_and_edited_byte_exactly(fleet, axis, specs, root_only_fstab):
    host = root_only_fstab
    run = fleet_axis(fleet, axis)
    spec = specs({"hosts.yaml": host_specs(fleet, user="ops", sudo=True, features=SWAP, hosts=[host])})

    diff = run("diff", "-f", str(spec))
    assert diff.code == 2, diff.out + diff.err
    assert "  ~ swapfile: update /etc/fstab (swap line for /swapfile)" in diff.out
    assert "create /etc/fstab" not in diff.out and "FAILED" not in diff.out

    applied = run("apply", "-f", str(spec), "-o", "json")
    assert applied.code == 0, applied.out + applied.err
    [swap] = host_views(applied)[host.name]["features"]
    assert swap["state"] == "refused" and "swapon failed" in swap["message"]  # the overlay refuses swapon
    fstab = host.root_path("/etc/fstab").read_bytes()
    assert fstab == HOSTILE + b"\n" + AXIS_LINES
    assert fstab.split(b"\n")[:-2] == HOSTILE.split(b"\n")  # every line of the host's, byte for byte
    assert _mode(host) == "600 root:root"

    again = run("diff", "-f", str(spec))
    assert again.code == 0, again.out + again.err

    off = specs({"hosts.yaml": host_specs(fleet, user="ops", sudo=True, features=OFF, hosts=[host])})
    removed = run("apply", "-f", str(off), "-o", "json")
    assert removed.code == 0, removed.out + removed.err
    assert host.root_path("/etc/fstab").read_bytes() == HOSTILE
    assert _mode(host) == "600 root:root"
    for path in ("/swapfile", MARKER, SYSCTL):
        assert host.exec(f"test -e {shlex.quote(path)}", check=False).returncode != 0, path
