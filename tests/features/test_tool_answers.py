"""A tool that could not answer is never a "no" (issue 16 T1, item 1 follow-up).

The package probes used to ask `dpkg-query ... 2>/dev/null`, `rpm -q ... &&`, `brew list ... &&`
and `systemctl is-enabled 2>/dev/null`: a locked or unreadable package database, a dead D-Bus or
a Homebrew that cannot write its cache all read as "not installed" or "off". With
`earlyoom: false` and axis's marker present, `false` then removed only the marker, and the
package axis installed was left unmanaged for good. Now every question goes through
`probes.ASK_FN` (exit status and words), and only each tool's documented negative answer is a
"no"; anything else makes the feature unreadable, with the tool's words, and plans no step.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from axis.drivers.facts.sections import Section
from axis.drivers.features.base import Unreadable
from axis.drivers.features.probes import Answer, answers
from axis.drivers.features.earlyoom import Earlyoom
from axis.drivers.features.packages import marker_text, package_probe
from axis.drivers.features.persistent_journal import PROBE as JOURNAL_PROBE, PersistentJournal
from axis.drivers.features.watchdog import PROBE as WATCHDOG_PROBE, Watchdog
from axis.reconcile.plan import plan_host
from axis.specs.effective import EffectiveFeature
from axis.specs.features import EarlyoomSettings, WatchdogSettings
from tests.features.hostsim import capture, facts_with, file_section, package_section, section

D = Earlyoom()


def _axis_installed(pkg: Section) -> tuple:
    """A systemd host where axis installed earlyoom (its marker), the package probe saying `pkg`."""
    facts, sections = capture("debian12-container.txt")
    return facts_with(facts, init_system="systemd"), {
        **sections, "earlyoom.pkg": pkg, "earlyoom.marker": file_section("earlyoom.marker", marker_text("earlyoom"))}


def _plan(settings, facts, sections):
    return plan_host({"earlyoom": EffectiveFeature("earlyoom", settings, "Host")}, sections, facts)[0]


def _with(lines: list[str], key: str, answer: list[str]) -> list[str]:
    """`lines` (a package probe's answer) with the `key` question answered by `answer` instead."""
    kept = [line for line in lines if not line.startswith((f"{key}.rc: ", f"{key}: ", f"{key}.err: "))]
    return kept + answer


INSTALLED = package_section("earlyoom.pkg", "earlyoom", installed=True, enabled="enabled", active="active").lines
INSTALLED_DNF = package_section("earlyoom.pkg", "earlyoom", manager="dnf", installed=True, enabled="enabled",
                                active="active").lines
#: (probe lines, words the reason must carry): what the tools print when they cannot answer.
CANNOT_ASK = {
    "dpkg-unreadable-db": (_with(INSTALLED, "dpkg", [
        "dpkg.rc: 2", "dpkg.err: dpkg-query: error: failed to open package info file '/var/lib/dpkg/status' for "
                      "reading: Permission denied"]), "failed to open package info file"),
    "dpkg-exit-1-other-words": (_with(INSTALLED, "dpkg", [
        "dpkg.rc: 1", "dpkg.err: dpkg-query: error: parsing file '/var/lib/dpkg/status' near line 7"]),
        "parsing file"),
    "rpm-db-locked": (_with(INSTALLED_DNF, "rpm", [
        "rpm.rc: 1", "rpm.err: error: rpmdb: BDB0113 Thread/process 4242 failed: Resource temporarily unavailable",
        "rpm.err: error: cannot open Packages database in /var/lib/rpm"]), "cannot open Packages database"),
    "apt-lists-unreadable": (_with(INSTALLED, "lists", [
        "lists.rc: 1", "lists.err: find: '/var/lib/apt/lists': Permission denied"]), "Permission denied"),
    "is-enabled-no-bus": (_with(INSTALLED, "enabled", [
        "enabled.rc: 1", "enabled.err: Failed to connect to bus: Permission denied"]), "Failed to connect to bus"),
    "is-active-timeout": (_with(INSTALLED, "active", [
        "active.rc: 1", "active.err: Failed to get properties: Connection timed out"]), "Connection timed out"),
    "dpkg-never-answered": ([line for line in INSTALLED if not line.startswith("dpkg")], "no answer of dpkg"),
}
CANNOT_ASK_BREW = {
    "brew-cannot-write": (["manager: brew", "brew.rc: 1",
                           "brew.err: Error: Permission denied @ dir_s_mkdir - /Users/ops/Library/Caches/Homebrew",
                           "pgrep.rc: 1"], "Permission denied @ dir_s_mkdir"),
    "pgrep-fatal": (["manager: brew", "brew.rc: 0", "brew: earlyoom 1.7", "pgrep.rc: 3",
                     "pgrep.err: cannot allocate 4611686018427387903 bytes"], "pgrep: cannot allocate"),
}


@pytest.mark.parametrize("case", sorted(CANNOT_ASK))
@pytest.mark.parametrize("settings", [False, EarlyoomSettings()], ids=["false", "desired"])
def test_a_tool_that_cannot_answer_plans_nothing(case, settings):
    """The defect: `false` with axis's marker removed only the marker when dpkg could not answer."""
    lines, words = CANNOT_ASK[case]
    facts, sections = _axis_installed(section("earlyoom.pkg", lines))
    plan = _plan(settings, facts, sections)
    assert plan.steps == [] and plan.error.startswith("cannot read the ") and words in plan.error, plan.error


@pytest.mark.parametrize("case", sorted(CANNOT_ASK_BREW))
def test_homebrew_that_cannot_answer_is_unreadable(case):
    lines, words = CANNOT_ASK_BREW[case]
    with pytest.raises(Unreadable, match=words.replace("@", ".")):
        D.observe({"earlyoom.pkg": section("earlyoom.pkg", lines),
                   "earlyoom.marker": file_section("earlyoom.marker", marker_text("earlyoom"))})


def test_the_same_host_answering_purges_what_axis_installed():
    """The baseline the cases above break: the tools answered, so `false` removes the package."""
    facts, sections = _axis_installed(section("earlyoom.pkg", INSTALLED))
    plan = _plan(False, facts, sections)
    assert plan.error == "" and [s.summary for s in plan.steps] == [
        "stop and disable the earlyoom service", "remove package earlyoom (axis installed it)",
        "remove /var/lib/axis/earlyoom.installed (axis installed earlyoom)"]


@pytest.mark.parametrize("manager,answer", [
    ("apt-get", ["dpkg.rc: 1", "dpkg.err: dpkg-query: no packages found matching earlyoom", "lists.rc: 0"]),
    ("dnf", ["rpm.rc: 1", "rpm: package earlyoom is not installed"]),
    ("yum", ["rpm.rc: 1", "rpm: package earlyoom is not installed"]),
    ("brew", ["brew.rc: 1", "pgrep.rc: 1"]),
])
def test_each_tools_documented_no_is_not_installed(manager, answer):
    """A package removed by hand (the tool says so): `false` only forgets axis's marker."""
    systemd = [] if manager == "brew" else ["enabled.rc: 1", "enabled: not-found", "active.rc: 3", "active: inactive"]
    facts, sections = _axis_installed(section("earlyoom.pkg", [f"manager: {manager}", *answer, *systemd]))
    state = D.observe(sections)
    assert not state.installed and state.marker and state.manager == manager
    assert [s.summary for s in _plan(False, facts, sections).steps] == [
        "remove /var/lib/axis/earlyoom.installed (axis installed earlyoom)"]


def test_homebrew_naming_an_empty_cellar_folder_is_not_installed():
    """`brew uninstall` can leave the formula's Cellar folder behind, empty; `brew list --versions`
    then prints the name alone, exit 0 (Homebrew's cmd/list.rb prints each folder with the kegs
    inside). A Mac user published exactly this for tailscale (fixtures/facts/sources/
    brew-list-tailscale-emptied-cellar.txt). Two kegs are still installed."""
    def observed(said: str):
        pkg = section("earlyoom.pkg", ["manager: brew", "brew.rc: 0", f"brew: {said}", "pgrep.rc: 1"])
        return D.observe(_axis_installed(pkg)[1]).installed
    assert observed("earlyoom") is False and observed("earlyoom ") is False
    assert observed("earlyoom 1.8.2 1.7") is True
    with pytest.raises(Unreadable, match=r"brew list: exit 0 without a word"):
        observed("")  # exit 0 and nothing on stdout says neither yes nor no


def test_old_or_offline_systemd_saying_no_such_unit_is_not_found():
    """systemd 219 (CentOS 7), and 252 offline, say a missing unit this way, with exit 1."""
    lines = _with(INSTALLED, "enabled", [
        "enabled.rc: 1", "enabled.err: Failed to get unit file state for earlyoom.service: No such file or directory"])
    _, sections = _axis_installed(section("earlyoom.pkg", lines))
    assert D.observe(sections).enabled == "not-found"


def test_watchdog_runtime_that_systemctl_cannot_show_is_unreadable():
    facts, sections = capture("debian12-container.txt")
    failed = section("watchdog.live", ["runtime.rc: 1", "runtime.err: Failed to connect to bus: Connection refused"])
    plan = plan_host({"watchdog": EffectiveFeature("watchdog", WatchdogSettings(), "Host")},
                     {**sections, "watchdog.live": failed}, facts)[0]
    assert plan.steps == [] and "Failed to connect to bus" in plan.error
    shown = section("watchdog.live", ["softdog: loaded", "runtime.rc: 0", "runtime: 1min"])
    assert Watchdog().observe({**sections, "watchdog.live": shown}).runtime == "1min"


# --- the real probes, run by sh ---------------------------------------------------------------

@pytest.fixture
def fake_bin():
    """A directory put first on PATH, for stand-ins of the package tools."""
    path = Path(tempfile.mkdtemp(prefix="axis-tools-"))
    yield path
    shutil.rmtree(path)


def _tool(bin_dir: Path, name: str, body: str) -> None:
    (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
    (bin_dir / name).chmod(0o755)


def _run_probe(command: str, bin_dir: Path) -> Section:
    done = subprocess.run(["sh", "-c", command], capture_output=True, text=True,
                          env={"PATH": f"{bin_dir}:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"})
    return Section("earlyoom.pkg", done.stdout.splitlines(), done.stderr.splitlines(), done.returncode)


@pytest.mark.skipif(shutil.which("find") is None, reason="needs find")
def test_the_real_probe_passes_a_failing_dpkg_query_on(fake_bin):
    _tool(fake_bin, "apt-get", "exit 0")
    _tool(fake_bin, "dpkg-query", "echo \"dpkg-query: error: failed to open package info file "
                                  "'/var/lib/dpkg/status' for reading: Permission denied\" >&2; exit 2")
    _tool(fake_bin, "systemctl", "echo enabled")
    answer = _run_probe(package_probe("earlyoom", "earlyoom"), fake_bin)
    assert answer.rc == 0 and "dpkg.rc: 2" in answer.lines
    with pytest.raises(Unreadable, match="failed to open package info file .* Permission denied .exit 2."):
        D.observe({"earlyoom.pkg": answer, "earlyoom.marker": file_section("earlyoom.marker", None)})
    _tool(fake_bin, "dpkg-query", "echo 'dpkg-query: no packages found matching earlyoom' >&2; exit 1")
    answer = _run_probe(package_probe("earlyoom", "earlyoom"), fake_bin)
    state = D.observe({"earlyoom.pkg": answer, "earlyoom.marker": file_section("earlyoom.marker", None)})
    assert not state.installed and state.enabled == "enabled"
    _tool(fake_bin, "dpkg-query", "printf 'ii '")
    answer = _run_probe(package_probe("earlyoom", "earlyoom"), fake_bin)
    assert D.observe({"earlyoom.pkg": answer, "earlyoom.marker": file_section("earlyoom.marker", None)}).installed


def test_the_real_probe_passes_a_failing_rpm_and_systemctl_on(fake_bin):
    (fake_bin / "uname").symlink_to(shutil.which("uname"))  # a PATH of stand-ins only: no apt-get here
    _tool(fake_bin, "dnf", "exit 0")
    _tool(fake_bin, "rpm", "echo 'error: cannot open Packages database in /var/lib/rpm' >&2; exit 1")
    _tool(fake_bin, "systemctl", "echo 'Failed to connect to bus: Permission denied' >&2; exit 1")
    done = subprocess.run(["/bin/sh", "-c", package_probe("earlyoom", "earlyoom")], capture_output=True, text=True,
                          env={"PATH": str(fake_bin), "LC_ALL": "C"})
    answer = Section("earlyoom.pkg", done.stdout.splitlines(), done.stderr.splitlines(), done.returncode)
    assert answer.lines[0] == "manager: dnf"  # the `.err` lines may come before or after the `.rc` one
    assert {"rpm.rc: 1", "rpm.err: error: cannot open Packages database in /var/lib/rpm"} <= set(answer.lines)
    with pytest.raises(Unreadable, match="cannot open Packages database"):
        D.observe({"earlyoom.pkg": answer, "earlyoom.marker": file_section("earlyoom.marker", None)})
    _tool(fake_bin, "rpm", "echo 'package earlyoom is not installed'; exit 1")
    done = subprocess.run(["/bin/sh", "-c", package_probe("earlyoom", "earlyoom")], capture_output=True, text=True,
                          env={"PATH": str(fake_bin), "LC_ALL": "C"})
    answer = Section("earlyoom.pkg", done.stdout.splitlines(), done.stderr.splitlines(), done.returncode)
    with pytest.raises(Unreadable, match="systemctl is-enabled: Failed to connect to bus"):
        D.observe({"earlyoom.pkg": answer, "earlyoom.marker": file_section("earlyoom.marker", None)})


#: The probes below run as nobody: root reads every file, so only an unprivileged login meets EACCES.
AS_NOBODY = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("su") is None,
                               reason="needs root to run probes as nobody")


@pytest.fixture
def journal_root() -> Iterator[Path]:
    """A temp root nobody can enter (tmp_path's parents are 0700) holding an empty journal/."""
    root = Path(tempfile.mkdtemp(prefix="axis-journal-"))
    root.chmod(0o755)
    (root / "journal").mkdir(mode=0o755)
    yield root
    shutil.rmtree(root)


def _as_nobody(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["su", "nobody", "-s", "/bin/sh", "-c", script], capture_output=True, text=True)


@AS_NOBODY
def test_the_journal_probe_fails_on_a_journald_conf_it_cannot_read(journal_root: Path):
    """It used to `cat ... 2>/dev/null`: an unreadable journald.conf read as "default storage"."""
    root = journal_root
    (root / "conf.d").mkdir(mode=0o755)
    (root / "journald.conf").write_text("[Journal]\nStorage=volatile\n")
    probe = (JOURNAL_PROBE.replace("/var/log/journal", str(root / "journal"))
             .replace("/etc/systemd/journald.conf.d", str(root / "conf.d"))
             .replace("/etc/systemd/journald.conf", str(root / "journald.conf")))
    assert str(root / "conf.d") + "/*.conf" in probe
    first = _as_nobody(probe)
    assert (first.returncode, first.stdout) == (0, "dir: yes\nstorage: volatile\n")
    (root / "journald.conf").chmod(0o600)
    locked = _as_nobody(probe)
    assert locked.returncode == 1 and "Permission denied" in locked.stderr and "storage" not in locked.stdout
    (root / "journald.conf").unlink()
    gone = _as_nobody(probe)
    assert (gone.returncode, gone.stdout) == (0, "dir: yes\n")  # no journald.conf: the host said so


@AS_NOBODY
def test_the_journal_probe_says_why_it_cannot_read_the_machine_id(journal_root: Path):
    """It used to `cat /etc/machine-id 2>/dev/null`: EACCES became "exit 1 without a word"."""
    root = journal_root
    (root / "journal" / "0123abcd").mkdir(mode=0o755)
    (root / "machine-id").write_text("0123abcd\n")
    probe = (JOURNAL_PROBE.replace("/var/log/journal", str(root / "journal"))
             .replace("/etc/machine-id", str(root / "machine-id"))
             .replace("/etc/systemd/journald.conf", str(root / "journald.conf")))
    assert str(root / "machine-id") in probe and "/etc/machine-id" not in probe
    first = _as_nobody(probe)
    assert (first.returncode, first.stdout, first.stderr) == (0, "dir: yes\npersisting: yes\n", "")
    (root / "machine-id").chmod(0o600)
    locked = _as_nobody(probe)
    assert locked.returncode == 1 and "machine-id: Permission denied" in locked.stderr
    section = Section("persistentJournal.dir", locked.stdout.splitlines(), locked.stderr.splitlines(), 1)
    with pytest.raises(Unreadable, match="Permission denied"):
        PersistentJournal().observe({"persistentJournal.dir": section,
                                     "persistentJournal.marker": file_section("m", None)})
    (root / "machine-id").unlink()
    gone = _as_nobody(probe)
    assert (gone.returncode, gone.stdout, gone.stderr) == (0, "dir: yes\n", "")  # the host said: none


def _watchdog_probe(root: Path) -> str:
    """The watchdog probe asking `root`/run/systemd/system, not this machine's, whether systemd
    runs: the test then runs the same way on a systemd-booted machine and in a container."""
    probe = WATCHDOG_PROBE.replace("/run/systemd/system", str(root / "run/systemd/system"))
    assert probe != WATCHDOG_PROBE
    return probe


def _observe_watchdog(done: subprocess.CompletedProcess) -> str:
    return Watchdog().observe({"watchdog.live": Section("watchdog.live", done.stdout.splitlines(), [], done.returncode),
                               "watchdog.modules": file_section("m", None),
                               "watchdog.system": file_section("s", None)}).runtime


def test_the_watchdog_probe_does_not_ask_a_systemd_that_is_not_running(fake_bin):
    """Where systemd is not PID 1 (a container) the runtime is "" without asking: the re-exec
    step is live and the host refuses it in its own words."""
    _tool(fake_bin, "systemctl", "echo 'systemctl was asked' >&2; exit 9")
    done = subprocess.run(["sh", "-c", _watchdog_probe(fake_bin)], capture_output=True, text=True,
                          env={"PATH": f"{fake_bin}:/usr/bin:/bin", "LC_ALL": "C"})
    assert done.returncode == 0 and "systemd: not running" in done.stdout.splitlines()
    assert "systemctl was asked" not in done.stdout and _observe_watchdog(done) == ""


#: What dpkg-query prints on stderr, exit 0, when /var/lib/dpkg/status has a field it does not
#: know (a third-party package's control file), before the answer it was asked for.
DPKG_WARNING = ("dpkg-query: warning: parsing file '/var/lib/dpkg/status' near line 5 package 'earlyoom':\n"
                " missing 'Maintainer' field")


def test_a_tool_warning_on_stderr_is_not_part_of_its_answer(fake_bin):
    """The defect: stderr and stdout merged, dpkg-query's warning followed by "ii " read as
    "not installed", so `earlyoom: false` removed only axis's marker and left the package; and
    systemctl's warning became part of RuntimeWatchdogUSec, so `daemon-reexec` ran every pass."""
    _tool(fake_bin, "apt-get", "exit 0")
    _tool(fake_bin, "dpkg-query", f"printf '%s\\n' \"{DPKG_WARNING}\" >&2; printf 'ii '")
    _tool(fake_bin, "systemctl", 'case $1 in show) echo "Warning: The unit file changed on disk." >&2; echo 1min;; '
                                 '*) echo enabled;; esac')
    answer = _run_probe(package_probe("earlyoom", "earlyoom"), fake_bin)
    assert "dpkg.err: dpkg-query: warning: parsing file '/var/lib/dpkg/status' near line 5 package 'earlyoom':" \
        in answer.lines
    marker = file_section("earlyoom.marker", marker_text("earlyoom"))
    state = D.observe({"earlyoom.pkg": answer, "earlyoom.marker": marker})
    assert state.installed and state.marker
    facts, sections = _axis_installed(answer)
    assert [s.summary for s in _plan(False, facts, sections).steps] == [
        "stop and disable the earlyoom service", "remove package earlyoom (axis installed it)",
        "remove /var/lib/axis/earlyoom.installed (axis installed earlyoom)"]
    (fake_bin / "run/systemd/system").mkdir(parents=True)
    done = subprocess.run(["sh", "-c", _watchdog_probe(fake_bin)], capture_output=True, text=True,
                          env={"PATH": f"{fake_bin}:/usr/bin:/bin", "LC_ALL": "C"})
    assert "runtime.err: Warning: The unit file changed on disk." in done.stdout.splitlines()
    assert _observe_watchdog(done) == "1min"
    assert not any(s.summary.startswith("re-execute") for s in Watchdog().plan(
        WatchdogSettings(timeout_seconds=60), Watchdog().observe({
            "watchdog.live": Section("watchdog.live", ["softdog: loaded", *done.stdout.splitlines()], [], 0),
            "watchdog.modules": file_section("m", b"# managed by axis: watchdog\nsoftdog\n"),
            "watchdog.system": file_section("s", b"# managed by axis: watchdog\n[Manager]\nRuntimeWatchdogSec=60s\n"
                                                 b"ShutdownWatchdogSec=4min\n")}), facts).steps)


def test_answers_takes_only_ascii_digits_for_an_exit_status():
    """`str.isdigit` took "²" and `lstrip("-")` took "--5": `int()` then raised ValueError."""
    plain, asks = answers(["a.rc: ²", "b.rc: --5", "c.rc: -2", "d.rc: 0", "d: ii "])
    assert plain == {"a.rc": "²", "b.rc": "--5"} and asks == {"c": Answer(-2), "d": Answer(0, ("ii ",))}
