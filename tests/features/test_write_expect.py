"""A file is replaced only if it is still what the probe read (issue 16 T1 follow-up 3).

/etc/fstab is read by the probe and rewritten whole after the swap file's dd, minutes later: a
hand edit made in between used to be lost by the blind `mv`. Every WriteFile now carries the
SHA-256 of the bytes the probe read (or "absent"), and the write compares the file with it right
before the rename. These tests run the real command text with sh on this machine, with each
hash tool a host may have (GNU/busybox sha256sum, macOS shasum, openssl) and with none.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from axis.drivers.features.base import WriteFile, write_step
from axis.drivers.transport import ABSENT, atomic_write_command, content_digest

CHANGED = "changed since it was read; not overwritten; the next pass re-reads it"
#: What the write command needs besides a hash tool: sh's PATH is limited to these in the tests
#: that pick the tool.
BASE_TOOLS = ("mkdir", "rm", "mktemp", "cat", "chmod", "mv", "wc")


def _write(path: Path, data: bytes, expect: str | None, *, env: dict[str, str] | None = None,
           mode: int = 0o644) -> subprocess.CompletedProcess:
    return subprocess.run(["/bin/sh", "-c", atomic_write_command(str(path), mode, len(data), expect)], input=data,
                          capture_output=True, env=env)


def _leftovers(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if p.name.startswith(".axis-tmp.")]


def test_the_write_goes_over_exactly_what_was_read(tmp_path):
    fstab = tmp_path / "fstab"
    fstab.write_bytes(b"UUID=1 / ext4 defaults 0 1\n")
    done = _write(fstab, b"new\n", content_digest(b"UUID=1 / ext4 defaults 0 1\n"))
    assert done.returncode == 0, done.stderr
    assert fstab.read_bytes() == b"new\n" and _leftovers(tmp_path) == []


def test_a_file_edited_since_it_was_read_is_not_overwritten(tmp_path):
    fstab = tmp_path / "fstab"
    read = b"UUID=1 / ext4 defaults 0 1\n"
    fstab.write_bytes(read + b"/dev/sdb1 /srv xfs defaults 0 0\n")  # the hand edit after the probe
    done = _write(fstab, read + b"/swapfile none swap sw 0 0\n", content_digest(read))
    assert done.returncode != 0
    assert done.stderr.decode().strip() == f"{fstab} {CHANGED}"
    assert fstab.read_bytes() == read + b"/dev/sdb1 /srv xfs defaults 0 0\n"
    assert _leftovers(tmp_path) == []


def test_absent_means_absent(tmp_path):
    new = tmp_path / "new.conf"
    assert _write(new, b"x\n", ABSENT).returncode == 0 and new.read_bytes() == b"x\n"
    made_meanwhile = tmp_path / "made.conf"
    made_meanwhile.write_bytes(b"someone else's\n")
    done = _write(made_meanwhile, b"x\n", ABSENT)
    assert done.returncode != 0 and CHANGED in done.stderr.decode()
    assert made_meanwhile.read_bytes() == b"someone else's\n"
    removed = tmp_path / "removed.conf"  # read as present, gone by the time of the write
    done = _write(removed, b"x\n", content_digest(b"was here\n"))
    assert done.returncode != 0 and CHANGED in done.stderr.decode() and not removed.exists()


def test_odd_path_names_stay_quoted(tmp_path):
    odd = tmp_path / "it's $HOME `id` [a].conf"
    odd.write_bytes(b"a\n")
    assert _write(odd, b"b\n", content_digest(b"a\n")).returncode == 0 and odd.read_bytes() == b"b\n"
    done = _write(odd, b"c\n", content_digest(b"a\n"))
    assert done.returncode != 0 and done.stderr.decode().strip() == f"{odd} {CHANGED}"


def _path_with(tmp_path: Path, *tools: str) -> dict[str, str]:
    """An environment whose PATH holds only the base tools and `tools` (links to the real ones)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for tool in (*BASE_TOOLS, *tools):
        real = shutil.which(tool)
        if real is None:
            pytest.skip(f"{tool} is not installed")
        (bin_dir / tool).symlink_to(real)
    return {"PATH": str(bin_dir), "LC_ALL": "C"}


@pytest.mark.parametrize("tool", ["sha256sum", "shasum", "openssl"])
def test_each_hash_tool_a_host_may_have(tool, tmp_path):
    """GNU/busybox print `HEX  -`, shasum (macOS) the same, openssl `SHA2-256(stdin)= HEX`."""
    env = _path_with(tmp_path, tool, *(("perl",) if tool == "shasum" else ()))
    target = tmp_path / "f"
    target.write_bytes(b"read\n")
    assert _write(target, b"ok\n", content_digest(b"read\n"), env=env).returncode == 0
    assert target.read_bytes() == b"ok\n"
    done = _write(target, b"lost\n", content_digest(b"read\n"), env=env)
    assert done.returncode != 0 and CHANGED in done.stderr.decode() and target.read_bytes() == b"ok\n"


def test_a_host_without_any_hash_tool_fails_honestly(tmp_path):
    env = _path_with(tmp_path)
    target = tmp_path / "f"
    target.write_bytes(b"read\n")
    done = _write(target, b"new\n", content_digest(b"read\n"), env=env)
    assert done.returncode != 0 and "no sha256sum, shasum or openssl" in done.stderr.decode()
    assert target.read_bytes() == b"read\n" and _leftovers(tmp_path) == []


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("su") is None, reason="needs root to check as nobody")
def test_a_file_the_writer_cannot_read_is_not_overwritten(tmp_path):
    """The check reads the file; when it cannot, nothing is replaced and the host's words show."""
    directory = Path(tmp_path / "open")
    directory.mkdir()
    tmp_path.chmod(0o755)
    directory.chmod(0o777)
    target = directory / "f"
    target.write_bytes(b"secret\n")
    target.chmod(0o600)
    command = atomic_write_command(str(target), 0o644, 4, content_digest(b"secret\n"))
    done = subprocess.run(["su", "nobody", "-s", "/bin/sh", "-c", command], input=b"new\n", capture_output=True)
    assert done.returncode != 0 and "Permission denied" in done.stderr.decode()
    assert target.read_bytes() == b"secret\n"


@pytest.mark.parametrize("bad", ["", "ABSENT", "ab" * 31, "AB" * 32, "ab" * 32 + "\n", "x; rm -rf /"])
def test_expect_is_a_digest_or_absent_and_nothing_else(bad):
    with pytest.raises(ValueError):
        atomic_write_command("/etc/fstab", 0o644, 1, bad)


def test_every_planned_write_carries_the_digest_of_what_was_read():
    [create] = write_step("/etc/x.conf", "new\n", None, "x")
    [update] = write_step("/etc/x.conf", "new\n", b"old\n", "x")
    [mode] = write_step("/etc/x.conf", "same\n", b"same\n", "x", mode=0o755, have_mode=0o644)
    assert create.action == WriteFile("/etc/x.conf", b"new\n", 0o644, "absent")
    assert update.action.expect == hashlib.sha256(b"old\n").hexdigest()
    assert mode.action.expect == hashlib.sha256(b"same\n").hexdigest()
