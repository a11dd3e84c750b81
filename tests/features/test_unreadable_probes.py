"""A failed read is never "absent": for every driver, every probe that fails plans nothing.

Each driver is planned on real captured probe output (tests/fixtures/features), first as it was
captured (a plan without error: the baseline this test breaks), then with one of its probes
failing at a time, the way a host fails it: the login user may not read a root-only file (od's
"Permission denied", exit 1), sudo asks for a password, or the output was cut off (no end
marker). Whatever the settings (desired or `false`), the plan then holds no step at all and
its error names the file and carries the host's words. Before this, a root-only /etc/fstab read
as "absent" planned `+ create /etc/fstab` holding only axis's swap line.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from axis.drivers.facts import Facts
from axis.drivers.facts.sections import Section
from axis.drivers.features import DRIVERS
from axis.drivers.features.probes import ABSENT_EXIT, FileRead, file_probe, mode_probe, read_file
from axis.reconcile.plan import plan_host
from axis.specs.effective import EffectiveFeature
from axis.specs.features import (DiskCleanupSettings, EarlyoomSettings, NoSleepSettings, PanicRecoverySettings,
                                 PersistentJournalSettings, SwapfileSettings, TailscaleSettings, WatchdogSettings)
from tests.features.hostsim import capture, file_section, section

SETTINGS = {
    "swapfile": SwapfileSettings(size="32G", swappiness=10), "earlyoom": EarlyoomSettings(),
    "persistentJournal": PersistentJournalSettings(), "panicRecovery": PanicRecoverySettings(),
    "watchdog": WatchdogSettings(), "diskCleanup": DiskCleanupSettings(), "noSleep": NoSleepSettings(),
    "tailscale": TailscaleSettings(),
}
MACOS = {"noSleep"}

#: How a probe fails on a host: (stdout lines, exit status or None when cut off, stderr, words
#: the reason must carry).
FAILURES = {
    "permission": ([], 1, ["od: /etc/fstab: Permission denied"], "Permission denied"),
    "sudo": ([], 1, ["sudo: a password is required"], "sudo: a password is required"),
    "cut-off": ([" 23 20"], None, [], "output ended before the probe finished"),
}


def _host(feature: str) -> tuple[Facts, dict[str, Section]]:
    """A real capture with every probe of `feature` answered as a healthy host answers it."""
    if feature in MACOS:
        return capture("macos-14-arm.sections.txt", facts_fixture="macos-14-arm.txt")
    facts, sections = capture("debian12-container.txt")
    # panicRecovery and diskCleanup were not part of that capture: a clean host's answers
    extra = {"panicRecovery.file": file_section("panicRecovery.file", None), "panicRecovery.panic": section(
        "panicRecovery.panic", "0"), "panicRecovery.oom": section("panicRecovery.oom", "0"),
             "diskCleanup.script": file_section("diskCleanup.script", None),
             "diskCleanup.log": file_section("diskCleanup.log", None),
             "diskCleanup.cron": section("diskCleanup.cron", ["runner=/usr/sbin/cron", "daily=yes"]),
             "diskCleanup.mode": section("diskCleanup.mode", [], ABSENT_EXIT)}
    return facts, {**extra, **sections}


CASES = [(feature, settings, probe) for feature in SETTINGS for settings in ("desired", "false")
         for probe in DRIVERS[feature].probes(SETTINGS[feature])]


@pytest.mark.parametrize("feature", sorted(SETTINGS))
def test_every_driver_is_covered_and_its_baseline_reads_cleanly(feature):
    assert set(SETTINGS) == set(DRIVERS)
    facts, sections = _host(feature)
    for settings in (SETTINGS[feature], False):
        plan = plan_host({feature: EffectiveFeature(feature, settings, "Host")}, sections, facts)[0]
        assert plan.applicable and plan.error == "", plan


@pytest.mark.parametrize("failure", sorted(FAILURES))
@pytest.mark.parametrize("feature,which,probe", CASES)
def test_a_failed_probe_plans_no_step_and_reports_the_hosts_words(feature, which, probe, failure):
    facts, sections = _host(feature)
    stdout, rc, stderr, words = FAILURES[failure]
    sections = {**sections, probe: Section(probe, list(stdout), list(stderr), rc)}
    settings = SETTINGS[feature] if which == "desired" else False
    plan = plan_host({feature: EffectiveFeature(feature, settings, "Host")}, sections, facts)[0]
    assert plan.steps == [] and plan.skipped == [] and not plan.changes
    assert plan.error.startswith("cannot read ") and words in plan.error, plan.error


def test_a_missing_section_is_unreadable_too():
    """A probe whose section never came back (the script died before it) is not "absent"."""
    facts, sections = _host("swapfile")
    del sections["swapfile.fstab"]
    plan = plan_host({"swapfile": EffectiveFeature("swapfile", SETTINGS["swapfile"], "Host")}, sections, facts)[0]
    assert plan.steps == [] and plan.error == "cannot read /etc/fstab: the probe did not run"


def test_read_file_tells_the_three_answers_apart_by_exit_status_only():
    """Output cannot fake "absent": only the exit status says it, whatever the data looks like."""
    assert read_file(section("f", [" 61 0a"])) == FileRead("present", b"a\n")
    assert read_file(section("f", [], 0)) == FileRead("present", b"")
    assert read_file(section("f", [], ABSENT_EXIT, ["od: /f: No such file or directory"])).kind == "absent"
    looks_absent = section("f", ["No such file or directory"], 1, ["od: /f: Permission denied"])
    assert read_file(looks_absent) == FileRead("unreadable", reason="od: /f: Permission denied (exit 1)")
    assert read_file(section("f", ["not hex"])).kind == "unreadable"
    assert read_file(None).kind == "unreadable"


def _as_nobody(command: str) -> subprocess.CompletedProcess:
    return subprocess.run(["su", "nobody", "-s", "/bin/sh", "-c", command], capture_output=True, text=True)


@pytest.fixture
def open_tmp():
    """A directory `nobody` can reach (pytest's open_tmp sits under a root-only directory)."""
    path = Path(tempfile.mkdtemp(prefix="axis-probes-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("su") is None, reason="needs root to run probes as nobody")
def test_the_real_probes_tell_no_such_file_from_permission_denied(open_tmp):
    """The probes' shell, run by sh as an unprivileged user: exit 3 only for "no such file"."""
    (open_tmp / "open").mkdir(mode=0o755)
    (open_tmp / "open" / "fstab").write_bytes(b"a\xe9\r\n")
    (open_tmp / "locked").mkdir(mode=0o700)
    (open_tmp / "locked" / "fstab").write_bytes(b"secret\n")
    (open_tmp / "open" / "root-only").write_bytes(b"x\n")
    (open_tmp / "open" / "root-only").chmod(0o600)
    (open_tmp / "open" / "dangling").symlink_to(open_tmp / "open" / "nowhere")
    expect = {"open/fstab": 0, "open/missing": ABSENT_EXIT, "no-dir/x": ABSENT_EXIT, "locked/fstab": 1,
              "locked/missing": 1, "open/root-only": 1, "open": 1, "open/dangling": 1}
    # stat needs no read permission: a directory, a link and a root-only file have a mode
    stat_ok = {"open/root-only", "open", "open/dangling"}
    for rel, rc in expect.items():
        for probe in (file_probe(str(open_tmp / rel)), mode_probe(str(open_tmp / rel))):
            if "stat -c" in probe.command and rel in stat_ok:
                rc = 0
            done = _as_nobody(probe.command)
            assert done.returncode == rc, (rel, probe.command[-60:], done.stderr)
            if rc == 1:
                assert done.stderr.strip(), rel  # the host's words
    read = read_file(section("f", _as_nobody(file_probe(str(open_tmp / "open" / "fstab")).command).stdout.splitlines()))
    assert read == FileRead("present", b"a\xe9\r\n")
    assert "Permission denied" in _as_nobody(file_probe(str(open_tmp / "locked" / "fstab")).command).stderr


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("su") is None, reason="needs root to run probes as nobody")
def test_the_swap_file_probe_fails_on_a_path_it_cannot_stat(open_tmp):
    """A swap path the login user cannot stat used to look absent, and a file was moved over it."""
    (open_tmp / "locked").mkdir(mode=0o700)
    (open_tmp / "locked" / "swap").write_bytes(b"\0" * 10)
    (open_tmp / "swap").write_bytes(b"\0" * 7)
    probe = DRIVERS["swapfile"].probes
    present = _as_nobody(probe(SwapfileSettings(path=str(open_tmp / "swap")))["swapfile.files"].command)
    assert (present.returncode, present.stdout) == (0, f"7\tregular file\t{open_tmp / 'swap'}\n")
    missing = _as_nobody(probe(SwapfileSettings(path=str(open_tmp / "none")))["swapfile.files"].command)
    assert (missing.returncode, missing.stdout) == (0, "")
    locked = _as_nobody(probe(SwapfileSettings(path=str(open_tmp / "locked" / "swap")))["swapfile.files"].command)
    assert locked.returncode == 1 and "Permission denied" in locked.stderr
