"""The test hosts' base build says on stderr what it is doing (tests/sshhosts/buildlog.py).

The build is fed a fake debootstrap that prints what the real one prints (its `info` format strings
in /usr/share/debootstrap/functions and /usr/sbin/debootstrap, filled as in a bookworm minbase
run) and makes a root tree; the cached base in /var/cache/axis-testhosts is never touched (the
cache is a temp dir). `stream`, which runs debootstrap, is tested on a real child process.
"""

from __future__ import annotations

import fcntl
import io
import re
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.sshhosts import base
from tests.sshhosts.buildlog import BuildProgress, debootstrap_stage
from tests.sshhosts.system import HarnessUnavailable, stream

MIRROR = "http://deb.debian.org/debian"
PACKAGES = ("libc6 2.36-9+deb12u10", "adduser 3.134", "openssh-server 1:9.2p1-2+deb12u5")
DEBOOTSTRAP_OUTPUT = [
    "I: Target architecture can be executed",
    "I: Retrieving InRelease ",
    "I: Checking Release signature",
    "I: Valid Release signature (key id 4D64FEC119C2029067D6E791F8D2585B8783D481)",
    "I: Retrieving Packages ",
    "I: Validating Packages ",
    "I: Resolving dependencies of required packages...",
    "I: Resolving dependencies of base packages...",
    "I: Found additional required dependencies: libzstd1 usr-is-merged usrmerge ",
    f"I: Checking component main on {MIRROR}...",
    *[f"I: {verb} {package}" for package in PACKAGES for verb in ("Retrieving", "Validating")],
    "I: Chosen extractor for .deb packages: dpkg-deb",
    *[f"I: Extracting {package.split()[0]}..." for package in PACKAGES],
    "I: Installing core packages...",
    "I: Unpacking required packages...",
    "I: Unpacking libc6:amd64...",
    "I: Configuring required packages...",
    "I: Configuring libc6:amd64...",
    "I: Unpacking the base system...",
    "I: Unpacking adduser...",
    "I: Configuring the base system...",
    "I: Configuring adduser...",
    "I: Base system installed successfully.",
]
#: The stages those lines make, in order.
STAGES = ["retrieving and validating packages", "checking Release signature", "retrieving and validating packages",
          "resolving dependencies of required packages", "resolving dependencies of base packages",
          "retrieving and validating packages", "extracting packages", "installing core packages",
          "unpacking required packages", "configuring required packages", "unpacking the base system",
          "configuring the base system", "base system installed successfully"]


class Clock:
    """A clock the test moves: `now` seconds."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _said(text: str) -> list[tuple[int, str]]:
    return [(int(m.group(1)), m.group(2)) for m in re.finditer(r"^test hosts: base build +(\d+)s  (.*)$", text, re.M)]


def test_each_debootstrap_line_is_a_stage_a_package_of_the_stage_or_nothing() -> None:
    assert debootstrap_stage("I: Retrieving adduser 3.134") == ("retrieving and validating packages", True)
    assert debootstrap_stage("I: Extracting adduser...") == ("extracting packages", True)
    assert debootstrap_stage("I: Unpacking adduser...") == (None, True)
    assert debootstrap_stage("I: Unpacking the base system...") == ("unpacking the base system", False)
    assert debootstrap_stage("I: Chosen extractor for .deb packages: dpkg-deb") is None
    assert debootstrap_stage("Selecting previously unselected package adduser.") is None  # dpkg's own
    stages = [found[0] for line in DEBOOTSTRAP_OUTPUT if (found := debootstrap_stage(line)) and found[0]]
    assert [s for i, s in enumerate(stages) if i == 0 or s != stages[i - 1]] == STAGES


def test_a_line_per_stage_and_again_with_the_count_within_a_long_one() -> None:
    out, clock = io.StringIO(), Clock()
    progress = BuildProgress(out, clock)
    clock.now += 2
    progress.line("I: Retrieving adduser 3.134")
    for second in range(1, 12):
        clock.now += 1
        progress.line(f"I: Retrieving pkg{second} 1.0")
    progress.waiting()  # nothing new: 10 s have not passed since the repeat
    clock.now += 10
    progress.waiting()  # debootstrap silent for 10 s: the stage again
    clock.now += 1
    progress.line("I: Installing core packages...")
    assert _said(out.getvalue()) == [(2, "retrieving and validating packages"),
                                     (12, "retrieving and validating packages (11 so far)"),
                                     (23, "retrieving and validating packages (12 so far)"),
                                     (24, "installing core packages")]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temp cache for the base, a fake suite and mirror, and `chroot` commands recorded, not run."""
    monkeypatch.setenv("AXIS_TESTHOSTS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(base, "os_suite", lambda: "bookworm")
    monkeypatch.setattr(base, "apt_mirror", lambda suite: MIRROR)
    monkeypatch.setattr(base, "run", lambda cmd, **kwargs: subprocess.CompletedProcess(cmd, 0, "", ""))
    return tmp_path / "cache"


def fake_debootstrap(code: int = 0) -> Callable[..., tuple[int, list[str]]]:
    """A `stream` running no debootstrap: it makes the root tree the customisation edits, feeds
    the real one's lines to the build, and exits `code`."""

    def run(cmd: list[str], on_line: Callable[[str], None], on_wait: Callable[[], None],
            timeout: float) -> tuple[int, list[str]]:
        assert cmd[0] == "debootstrap" and cmd[-1] == MIRROR and timeout == 1800
        root = Path(cmd[-2])
        for path in ("etc/ssh/sshd_config.d", "etc/systemd/system", "etc/pam.d", "etc/sudoers.d",
                     "var/cache/apt/archives"):
            (root / path).mkdir(parents=True)
        (root / "etc/pam.d/sshd").write_text("session    required     pam_loginuid.so\n")
        lines = DEBOOTSTRAP_OUTPUT if code == 0 else [*DEBOOTSTRAP_OUTPUT[:5], "E: Couldn't download packages"]
        for line in lines:
            on_line(line)
            on_wait()
        return code, lines

    return run


def test_a_build_says_it_started_each_stage_and_where_the_base_is(cache: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(base, "stream", fake_debootstrap())
    final = base.ensure_base()
    assert final.parent == cache and (final / "etc/ssh/sshd_config.d/axis.conf").is_file()
    said = [what for _, what in _said(capsys.readouterr().err)]
    assert said == [f"building the base root filesystem once (about a minute): debootstrap bookworm from {MIRROR}",
                    *STAGES, "adding the test users and the sshd settings", f"base ready: {final}"]
    assert base.ensure_base() == final  # cached: built once, nothing more said
    assert capsys.readouterr().err == ""


def test_a_failed_build_shows_debootstraps_last_lines_and_leaves_no_base(cache: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(base, "stream", fake_debootstrap(code=1))
    with pytest.raises(HarnessUnavailable, match=r"debootstrap failed \(1\): (.|\n)*E: Couldn't download packages"):
        base.ensure_base()
    assert [p.name for p in cache.iterdir() if p.name.startswith("bookworm") or p.name.startswith(".build")] == []
    assert "retrieving and validating packages" in capsys.readouterr().err


def test_stream_gives_each_line_as_it_comes_and_waits_in_between(tmp_path: Path) -> None:
    lines: list[str] = []
    waits: list[int] = []
    script = "echo 'I: one'; echo 'to stderr' >&2; sleep 1.5; printf 'last, no newline'; exit 3"
    code, tail = stream(["sh", "-c", script], lines.append, lambda: waits.append(len(lines)), timeout=30)
    assert (code, lines, tail) == (3, ["I: one", "to stderr", "last, no newline"], lines)
    assert 2 in waits  # called while the command said nothing


def test_stream_kills_a_command_past_its_timeout() -> None:
    with pytest.raises(subprocess.TimeoutExpired):
        stream(["sleep", "30"], lambda line: None, lambda: None, timeout=1)


def test_a_second_builder_says_it_waits_for_the_first(cache: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(base, "stream", fake_debootstrap())
    cache.mkdir(parents=True)
    with open(cache / ".lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # another process building
        waiting = threading.Thread(target=base.ensure_base)
        waiting.start()
        deadline = time.monotonic() + 10
        while "waiting for another process" not in (said := capsys.readouterr().err) and time.monotonic() < deadline:
            time.sleep(0.05)
    waiting.join(10)
    assert said.endswith(f"  waiting for another process building the base in {cache}\n")
