"""Transport pieces that need no host: the sudo rule, sudo's refusals, atomic writes, the
host-key policy, and one facts round trip through the scripted fake."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import asyncssh
import pytest

from axis.drivers.host_key_policy import HostKeyPolicy
from axis.drivers.hostkeys import PolicyClient, known_hosts_files
from axis.drivers.transport import (ErrorKind, RunResult, TransportError, atomic_write_command,
                                    privileged, sudo_refusal)
from axis.reconcile.observe import gather_facts, to_observation
from tests.factskit import FIXTURES, golden_facts
from tests.fake_transport import FakeTransport


def test_privileged_wraps_only_non_root_with_sudo():
    assert privileged("id -u", login_is_root=True, sudo_allowed=True) == "id -u"
    assert privileged("id -u", login_is_root=False, sudo_allowed=False) == "id -u"
    wrapped = privileged("echo '$(touch /tmp/x)'; id", login_is_root=False, sudo_allowed=True)
    assert wrapped.startswith("sudo -n sh -c ")
    # the whole command travels as one quoted word: sh -c gets it back byte for byte
    out = subprocess.run(["sh", "-c", wrapped.replace("sudo -n ", "", 1).replace("sh -c", "printf %s", 1)],
                         capture_output=True, text=True).stdout
    assert out == "echo '$(touch /tmp/x)'; id"


@pytest.mark.parametrize("stderr, kind", [
    ("sudo: a password is required\n", ErrorKind.SUDO),
    ("sudo: a terminal is required to read the password; either use the -S option\n", ErrorKind.SUDO),
    ("ops is not in the sudoers file.  This incident will be reported.\n", ErrorKind.SUDO),
])
def test_sudo_refusals_are_classified(stderr, kind):
    error = sudo_refusal("h1", RunResult(1, "", stderr))
    assert error is not None and error.kind is kind
    assert str(error).startswith("h1: sudo needs a password: ")


def test_a_failing_command_is_not_a_sudo_refusal():
    assert sudo_refusal("h1", RunResult(1, "", "mkdir: cannot create directory: File exists\n")) is None
    assert sudo_refusal("h1", RunResult(0, "", "sudo: a password is required")) is None


def test_atomic_write_replaces_whole_file_and_cleans_up(tmp_path):
    target = tmp_path / "dir with space" / "it's.conf"
    target.parent.mkdir()
    target.write_text("old\n")
    cmd = atomic_write_command(str(target), 0o640)
    subprocess.run(["sh", "-c", cmd], input=b"new\ncontent\n", check=True)
    assert target.read_text() == "new\ncontent\n"
    assert oct(target.stat().st_mode & 0o777) == "0o640"
    assert sorted(os.listdir(target.parent)) == ["it's.conf"]
    fresh = atomic_write_command(str(tmp_path / "new.d" / "x"), 0o644)
    subprocess.run(["sh", "-c", fresh], input=b"x", check=True)
    assert (tmp_path / "new.d" / "x").read_text() == "x"
    under_a_file = atomic_write_command(str(target / "x"), 0o644)
    assert subprocess.run(["sh", "-c", under_a_file], input=b"x", capture_output=True).returncode != 0
    assert target.read_text() == "new\ncontent\n"


def test_atomic_write_with_size_refuses_a_truncated_transfer(tmp_path):
    """Found by the sshd-killed-mid-apply test: a dropped connection ends stdin early, and the
    empty or partial temp file was renamed over the target."""
    target = tmp_path / "a.conf"
    target.write_text("old\n")
    short = subprocess.run(["sh", "-c", atomic_write_command(str(target), 0o644, size=12)], input=b"new\n",
                           capture_output=True)
    assert short.returncode != 0 and b"short write: 4 of 12 bytes" in short.stderr
    assert target.read_text() == "old\n" and os.listdir(tmp_path) == ["a.conf"]
    subprocess.run(["sh", "-c", atomic_write_command(str(target), 0o644, size=12)], input=b"new\ncontent\n", check=True)
    assert target.read_text() == "new\ncontent\n" and os.listdir(tmp_path) == ["a.conf"]


def test_atomic_write_removes_what_a_killed_write_of_the_same_file_left(tmp_path):
    """Found by CI: sshd killed with -9 mid-transfer leaves the temp file (no trap runs), and
    nothing ever removed it. The next write of that file does; other files' temps are theirs."""
    target = tmp_path / "it's.conf"
    stale = tmp_path / ".axis-tmp.it's.conf.Ab3dE9"
    other = tmp_path / ".axis-tmp.other.conf.Xy12Zq"
    stale.write_text("half")
    other.write_text("in flight")
    subprocess.run(["sh", "-c", atomic_write_command(str(target), 0o644, size=4)], input=b"new\n", check=True)
    assert target.read_text() == "new\n"
    assert sorted(os.listdir(tmp_path)) == [other.name, "it's.conf"]


@pytest.mark.parametrize("expect", [None, "absent"], ids=["plain", "with-expect"])
def test_a_failed_atomic_write_never_removes_a_tmp_the_shell_brought(tmp_path, expect):
    """The defect: the cleanup `rm -f "$tmp"` after a failed mkdir or mktemp removed whatever
    `tmp` already named (from the environment, or set by ~/.bashrc in the login shell)."""
    keep = tmp_path / "keepme"
    keep.write_text("not axis's\n")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    target = blocker / "sub" / "x.conf"  # mkdir -p fails: a-file is not a directory
    failed = subprocess.run(["sh", "-c", atomic_write_command(str(target), 0o644, expect=expect)], input=b"x",
                            capture_output=True, env={**os.environ, "tmp": str(keep), "rc": "0"})
    assert failed.returncode != 0 and b"Not a directory" in failed.stderr
    assert keep.read_text() == "not axis's\n"


def _key() -> asyncssh.SSHKey:
    return asyncssh.generate_private_key("ssh-ed25519")


def test_strict_policy_refuses_unknown_host(tmp_path):
    client = PolicyClient("h1", [tmp_path / "known_hosts"], HostKeyPolicy.STRICT)
    assert client.validate_host_public_key("10.0.0.5", "10.0.0.5", 22, _key()) is False
    assert client.refusal is not None and client.refusal.kind is ErrorKind.HOST_KEY_UNKNOWN
    assert "accept-new" in str(client.refusal)
    assert not (tmp_path / "known_hosts").exists()


def test_accept_new_records_first_key_then_refuses_a_changed_one(tmp_path):
    known = tmp_path / "ssh" / "known_hosts"
    first = _key()
    client = PolicyClient("h1", [known], HostKeyPolicy.ACCEPT_NEW)
    assert client.validate_host_public_key("10.0.0.5", "10.0.0.5", 2222, first) is True
    line = known.read_text()
    assert line.startswith("[10.0.0.5]:2222 ssh-ed25519 ")
    assert oct(known.stat().st_mode & 0o777) == "0o600"
    trusted = asyncssh.read_known_hosts(str(known)).match("10.0.0.5", "10.0.0.5", 2222)[0]
    assert {k.get_fingerprint() for k in trusted} == {first.get_fingerprint()}
    again = PolicyClient("h1", [known], HostKeyPolicy.ACCEPT_NEW)
    assert again.validate_host_public_key("10.0.0.5", "10.0.0.5", 2222, _key()) is False
    assert again.refusal is not None and again.refusal.kind is ErrorKind.HOST_KEY_MISMATCH
    assert known.read_text() == line  # a changed key is never recorded


def test_known_hosts_resolution(tmp_path):
    explicit = tmp_path / "kh"
    assert known_hosts_files(explicit, ["/etc/other"]) == [explicit]
    assert known_hosts_files(None, ["/etc/a", "/etc/b"]) == [Path("/etc/a"), Path("/etc/b")]
    # `UserKnownHostsFile none` (asyncssh: None) never turns verification off
    assert known_hosts_files(None, None) == [Path("~/.ssh/known_hosts").expanduser()]


def test_facts_in_one_round_trip_through_the_fake():
    fake = FakeTransport("deb").script(r"", stdout=(FIXTURES / "debian12.txt").read_text())
    facts = asyncio.run(gather_facts(fake, ["ollama"]))
    # one command: the facts script itself (not run under sudo), asking for the extra tool too
    assert len(fake.calls) == 1 and fake.calls[0].startswith("sh -s\n# axis facts script v")  # on stdin
    assert " ollama" in fake.calls[0]
    expected = golden_facts("debian12")
    got = facts.model_dump(mode="json")
    assert got.pop("collected_at") and expected.pop("collected_at")  # the time of the run, not the fixture's
    assert got == expected
    obs = to_observation("deb", facts, None)
    assert (obs.host, obs.status, obs.reason) == ("deb", "complete", "")
    assert obs.data == facts.model_dump(mode="json")


def test_unreachable_observation_keeps_the_reason():
    err = TransportError(ErrorKind.UNREACHABLE, "h2", "connection refused by 10.0.0.6 (is sshd running?)")
    obs = to_observation("h2", None, err)
    assert (obs.status, obs.data) == ("unreachable", None)
    assert obs.reason == "h2: unreachable: connection refused by 10.0.0.6 (is sshd running?)"
    assert to_observation("h3", None, TransportError(ErrorKind.AUTH, "h3", "refused")).status == "error"
