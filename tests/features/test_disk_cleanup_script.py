"""The real generated clean-up script, run by `sh` against a temp directory tree standing in for /.

AXIS_CLEAN_ROOT points the script at the tree (and makes it run system commands only from the
tree's bin/, where stand-ins log their arguments); AXIS_CLEAN_USED_PERCENT fakes the df reading.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from axis.drivers.facts.sections import split_sections
from axis.drivers.features.base import MANAGED_MARK
from axis.drivers.features.probes import file_bytes, file_probe
from axis.drivers.features.cleanup_script import (LOG_PATH, SCRIPT_PATH, TEST_PERCENT_ENV, TEST_ROOT_ENV,
                                                  command_line, parse_report, render)
from axis.specs.features import DiskCleanupSettings
from tests.factskit import section

DAY = 86400
SCRIPT = render(DiskCleanupSettings())  # retention 3 days, deep at 85 %

STUBS = {
    "journalctl": """
        case "$*" in --disk-usage) echo "Archived and active journals take up 8.0M in the file system." ;; esac
    """,
    "apt-get": """
        case "$*" in
          "-s autoremove --purge") echo "Purg oldkernel [6.1]"; echo "Purg oldlib [1.0]" ;;
          *autoremove*) echo "Removing oldkernel (6.1) ..."; exit "${STUB_APT_RC:-0}" ;;
        esac
    """,
    "snap": r"""
        case "$*" in
          "list --all") printf '%s\n' "Name    Version   Rev   Tracking       Publisher   Notes" \
              "core20  20230801  2015  latest/stable  canonical   base,disabled" \
              "core20  20230901  2105  latest/stable  canonical   base" ;;
        esac
    """,
    "docker": """
        case "$*" in
          "system df") echo "TYPE  TOTAL  ACTIVE  SIZE  RECLAIMABLE"; echo "Images  3  1  2GB  1GB (50%)" ;;
          "system prune"*) echo "Total reclaimed space: 1GB" ;;
        esac
    """,
}


def age(path: Path, days: float) -> None:
    t = time.time() - days * DAY
    os.utime(path, (t, t), follow_symlinks=False)


def put(root: Path, rel: str, days: float, size: int = 10) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    age(path, days)
    return path


def snapshot(root: Path) -> dict[str, tuple[int, float]]:
    """Every path below root with its size and mtime (the stand-ins' call log aside)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            out[str(p.relative_to(root))] = (st.st_size, st.st_mtime)
    out.pop("calls", None)
    return out


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A small / : the tier roots, stand-in commands in bin/, a directory outside the roots."""
    r = tmp_path / "root"
    for d in ("tmp", "var/tmp", "var/crash", "var/log", "root", "home/al", "bin", "var/cache/apt/archives",
              "var/lib/snapd/snaps"):
        (r / d).mkdir(parents=True)
    for name, body in STUBS.items():
        stub = r / "bin" / name
        stub.write_text(f'#!/bin/sh\necho "{name} $*" >> "$AXIS_CLEAN_ROOT/calls"\n{body}\nexit 0\n')
        stub.chmod(0o755)
    put(r, "var/cache/apt/archives/old.deb", 1, size=1000)
    put(r, "var/lib/snapd/snaps/core20_2015.snap", 30, size=4096)
    (r / "calls").touch()
    return r


def run(root: Path, *args: str, percent: int | None = None, script: str = SCRIPT, shell: str = "sh",
        env: dict[str, str] | None = None, as_file: Path | None = None) -> subprocess.CompletedProcess[str]:
    environ = {"PATH": os.environ["PATH"], TEST_ROOT_ENV: str(root), **(env or {})}
    if percent is not None:
        environ[TEST_PERCENT_ENV] = str(percent)
    if as_file is not None:
        return subprocess.run([shell, str(as_file), *args], env=environ, capture_output=True, text=True, timeout=60)
    return subprocess.run([shell, "-s", "--", *args], input=script, env=environ, capture_output=True,
                          text=True, timeout=60)


def calls(root: Path) -> list[str]:
    return (root / "calls").read_text().splitlines()


def steps(stdout: str) -> dict[str, dict]:
    return {s.name: s.to_data() for s in parse_report(stdout).steps}


# --- the text ------------------------------------------------------------------------------

def test_script_starts_with_shebang_then_the_managed_mark_and_carries_the_settings():
    text = render(DiskCleanupSettings(retentionDays=7, deepAtPercent=90))
    lines = text.splitlines()
    assert lines[0] == "#!/bin/sh" and lines[1].startswith(MANAGED_MARK)
    assert "RETENTION_DAYS=7" in lines and "DEEP_AT_PERCENT=90" in lines
    assert text.endswith("\n") and text.isascii()
    assert render(DiskCleanupSettings(retentionDays=7, deepAtPercent=90)) == text  # deterministic


def test_script_passes_sh_n_and_shellcheck(tmp_path):
    path = tmp_path / "axis-disk-cleanup"
    path.write_text(SCRIPT)
    for shell in ("sh", "dash", "bash"):
        if shutil.which(shell):
            assert subprocess.run([shell, "-n", str(path)], capture_output=True).returncode == 0, shell
    if shutil.which("shellcheck"):
        check = subprocess.run(["shellcheck", "-s", "sh", str(path)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout


def test_installed_script_reads_back_unchanged_through_the_facts_section_parser(tmp_path):
    """The driver observes the file with its file probe inside the facts script: the read-back
    (the real probe run by sh, framed, parsed) must equal what was written, or every diff would
    show a change."""
    path = tmp_path / "axis-disk-cleanup"
    path.write_text(SCRIPT)
    probe = subprocess.run(["sh", "-c", file_probe(str(path)).command], capture_output=True, text=True)
    assert probe.returncode == 0, probe.stderr
    boundary = "0" * 32
    out = section(boundary, "diskCleanup.script", probe.stdout) + f"@@axis:{boundary}:done\n"
    assert file_bytes(split_sections(out, boundary).sections, "diskCleanup.script", str(path)) == SCRIPT.encode()


def test_command_line():
    assert command_line() == "sh -s --"
    assert command_line(deep=True, dry_run=True) == "sh -s -- --deep --dry-run"


# --- safe tier -----------------------------------------------------------------------------

def test_safe_tier_removes_old_files_keeps_new_ones_and_never_the_roots(root):
    old = [put(root, p, 5) for p in ("tmp/old.txt", "tmp/a/b/deep-old", "var/tmp/old", "var/crash/core.1",
                                     "root/.cache/pip/wheel", "home/al/.cache/uv/archive", "home/al/.cache/thumbnails/x.png")]
    new = [put(root, p, 1) for p in ("tmp/new.txt", "var/tmp/new", "home/al/.cache/uv/fresh")]
    kept_other = [put(root, "home/al/.cache/huggingface/model.bin", 30),  # deep tier only
                  put(root, "home/al/notes.txt", 30)]                      # not a tier root
    (root / "tmp/empty-old").mkdir()
    age(root / "tmp/empty-old", 5)
    (root / "tmp/empty-new").mkdir()
    for d in ("tmp", "var/tmp", "var/crash"):
        age(root / d, 30)  # an old root must survive even once it is empty

    r = run(root, percent=10)
    assert r.returncode == 0, r.stderr
    assert not any(p.exists() for p in old)
    assert all(p.exists() for p in new + kept_other)
    assert not (root / "tmp/empty-old").exists() and (root / "tmp/empty-new").is_dir()
    for d in ("tmp", "var/tmp", "var/crash", "var/log", "root/.cache/pip", "home/al/.cache/uv"):
        assert (root / d).is_dir(), d
    s = steps(r.stdout)
    assert s["/tmp"] == {"tier": "safe", "name": "/tmp", "result": "removed", "files": 2, "bytes": 20,
                         "emptyDirs": 1}
    assert s["/home/al/.cache/uv"]["files"] == 1 and s["/root/.cache/pip"]["files"] == 1
    assert "/home/al/.cache/huggingface" not in s
    report = parse_report(r.stdout)
    assert report.complete and not report.deep and report.errors == [] and not report.dry_run


def test_root_stays_even_when_everything_below_it_goes(root):
    put(root, "var/tmp/only", 9)
    (root / "var/tmp/sub").mkdir()
    age(root / "var/tmp/sub", 9)
    age(root / "var/tmp", 9)
    assert run(root, percent=10).returncode == 0
    assert (root / "var/tmp").is_dir() and list((root / "var/tmp").iterdir()) == []


def test_var_log_loses_only_old_rotated_or_compressed_logs(root):
    removed = [put(root, p, 5) for p in ("var/log/syslog.1", "var/log/syslog.2.gz", "var/log/apt/history.log.1.gz",
                                         "var/log/dpkg.log.old", "var/log/kern.log.3.xz")]
    kept = [put(root, p, 30) for p in ("var/log/syslog", "var/log/auth.log", "var/log/apt/history.log",
                                       "var/log/wtmp", "var/log/journal/abc/system.journal")]
    kept.append(put(root, "var/log/syslog.4.gz", 1))  # rotated but recent
    (root / "var/log/nginx").mkdir()                  # a service's empty log dir stays
    age(root / "var/log/nginx", 30)
    r = run(root, percent=10)
    assert r.returncode == 0, r.stderr
    assert not any(p.exists() for p in removed)
    assert all(p.exists() for p in kept)
    assert (root / "var/log/nginx").is_dir()
    assert steps(r.stdout)["/var/log"]["files"] == 5


def test_retention_comes_from_the_settings(root):
    five, eight = put(root, "tmp/five-days", 5), put(root, "tmp/eight-days", 8)
    r = run(root, percent=10, script=render(DiskCleanupSettings(retentionDays=7)))
    assert r.returncode == 0 and five.exists() and not eight.exists()


def test_symlinks_out_of_the_roots_are_never_followed(root):
    outside = root / "data"
    victims = [put(root, "data/precious.bin", 30), put(root, "data/models/llm.bin", 30)]
    age(outside, 30)
    for link, target in (("tmp/link-to-dir", outside), ("tmp/link-to-file", outside / "precious.bin")):
        (root / link).symlink_to(target)
        age(root / link, 30)
    (root / "root/.cache").mkdir()
    (root / "root/.cache/huggingface").symlink_to(outside / "models")   # a symlinked cache is skipped
    (root / "home/al/.cache").symlink_to(outside)                        # so is a symlinked ~/.cache
    r = run(root, "--deep", percent=10)
    assert r.returncode == 0, r.stderr
    assert all(p.exists() for p in victims)
    assert (root / "tmp/link-to-dir").is_symlink()
    s = steps(r.stdout)
    assert s["/root/.cache/huggingface"]["result"] == "skipped-symlink"
    assert s["/home/al/.cache/uv"]["result"] == "skipped-symlink"


def test_x11_and_systemd_private_directories_are_left_alone(root):
    kept = [put(root, "tmp/.X0-lock", 30), put(root, "tmp/.X11-unix/X0", 30),
            put(root, "tmp/systemd-private-abc-chrony.service-x/tmp/f", 30)]
    (root / "tmp/.ICE-unix").mkdir()
    age(root / "tmp/.ICE-unix", 30)
    assert run(root, percent=10).returncode == 0
    assert all(p.exists() for p in kept) and (root / "tmp/.ICE-unix").is_dir()


# --- commands ------------------------------------------------------------------------------

def test_safe_tier_runs_journal_apt_and_snap_and_reports_them(root):
    r = run(root, percent=10)
    assert r.returncode == 0, r.stderr
    assert calls(root) == [
        "journalctl --vacuum-size=2G --vacuum-time=3d",
        "apt-get -s autoremove --purge",
        "apt-get -y autoremove --purge",
        "apt-get clean",
        "snap list --all",
        "snap remove core20 --revision=2015",
    ]
    s = steps(r.stdout)
    assert s["apt-get -y autoremove --purge"]["files"] == 2
    assert s["apt-get clean"] == {"tier": "safe", "name": "apt-get clean", "result": "ran", "files": 1,
                                  "bytes": 1000, "emptyDirs": None}
    assert s["snap remove core20 --revision=2015"]["bytes"] == 4096


def test_a_failing_command_is_reported_and_the_rest_still_runs(root):
    put(root, "tmp/old", 9)
    r = run(root, percent=10, env={"STUB_APT_RC": "100"})
    assert r.returncode == 1
    report = parse_report(r.stdout)
    assert report.complete and report.errors == ["apt-get -y autoremove --purge exited 100: Removing oldkernel (6.1) ..."]
    assert steps(r.stdout)["apt-get -y autoremove --purge"]["result"] == "failed"
    assert not (root / "tmp/old").exists()


def test_missing_commands_are_simply_not_run(root):
    for stub in (root / "bin").iterdir():
        stub.unlink()
    r = run(root, "--deep", percent=10)
    assert r.returncode == 0, r.stderr
    names = set(steps(r.stdout))
    assert not any(n.startswith(("journalctl", "apt-get", "snap", "docker")) for n in names)


def test_system_commands_outside_the_test_root_never_run(root):
    """Under a test root, a command found elsewhere on PATH (the machine's real apt-get) is ignored."""
    for stub in (root / "bin").iterdir():
        stub.unlink()
    elsewhere = root.parent / "realbin"
    elsewhere.mkdir()
    for name in STUBS:
        (elsewhere / name).write_text(f'#!/bin/sh\necho "REAL {name} $*" >> "$AXIS_CLEAN_ROOT/calls"\n')
        (elsewhere / name).chmod(0o755)
    r = run(root, "--deep", percent=10, env={"PATH": f"{elsewhere}:{os.environ['PATH']}"})
    assert r.returncode == 0 and calls(root) == []


@pytest.mark.parametrize("shell", [s for s in ("dash", "bash") if shutil.which(s)])
def test_same_outcome_under_each_shell(root, shell):
    """Hosts' /bin/sh differ (dash on Debian, bash on Fedora/Arch)."""
    gone, kept = put(root, "tmp/old", 9), put(root, "var/log/syslog", 9)
    r = run(root, percent=10, shell=shell)
    assert r.returncode == 0, r.stderr
    assert not gone.exists() and kept.exists()
    assert parse_report(r.stdout).complete and steps(r.stdout)["/tmp"]["files"] == 1


# --- dry run -------------------------------------------------------------------------------

def test_dry_run_deletes_nothing_and_lists_counts_and_bytes(root):
    put(root, "tmp/a", 9, size=100)
    put(root, "tmp/b/c", 9, size=23)
    put(root, "tmp/new", 0, size=5)
    (root / "tmp/empty").mkdir()
    age(root / "tmp/empty", 9)
    put(root, "var/log/syslog.1", 9, size=7)
    put(root, "home/al/.cache/huggingface/blob", 9, size=1000)
    before = snapshot(root)
    r = run(root, "--dry-run", "--deep", percent=10)
    assert r.returncode == 0, r.stderr
    assert snapshot(root) == before
    calls_made = calls(root)
    s = steps(r.stdout)
    assert s["/tmp"] == {"tier": "safe", "name": "/tmp", "result": "would-remove", "files": 2, "bytes": 123,
                         "emptyDirs": 1}
    assert s["/var/log"]["files"] == 1 and s["/var/log"]["bytes"] == 7
    assert s["/home/al/.cache/huggingface"] == {"tier": "deep", "name": "/home/al/.cache/huggingface",
                                                "result": "would-remove", "files": 1, "bytes": 1000, "emptyDirs": 0}
    assert s["apt-get -y autoremove --purge"]["result"] == "would-run" and s["apt-get -y autoremove --purge"]["files"] == 2
    assert s["apt-get clean"]["bytes"] == 1000
    assert s["snap remove core20 --revision=2015"]["result"] == "would-run"
    assert s["docker system prune -af --filter until=72h"]["result"] == "would-run"
    assert any(n.startswith("journalctl --vacuum-size=2G") and "8.0M" in n for n in s)
    # only read-only or simulating invocations
    assert calls_made == ["journalctl --disk-usage", "apt-get -s autoremove --purge", "snap list --all",
                          "docker info", "docker system df"]
    report = parse_report(r.stdout)
    assert report.dry_run and report.freed == 0 and report.deep and report.deep_reason == "flag"
    assert report.estimate == 123 + 7 + 1000 + 1000 + 4096


# --- deep tier -----------------------------------------------------------------------------

@pytest.mark.parametrize("args, percent, deep, reason", [
    ((), 84, False, "no"),
    ((), 85, True, "disk"),      # at the threshold counts
    ((), 97, True, "disk"),
    (("--deep",), 10, True, "flag"),
])
def test_deep_tier_only_with_the_flag_or_at_the_threshold(root, args, percent, deep, reason):
    hf = put(root, "home/al/.cache/huggingface/hub/blob", 9)
    torch = put(root, "root/.cache/torch/kernels/k", 9)
    fresh = put(root, "root/.cache/torch/new", 1)
    r = run(root, *args, percent=percent)
    assert r.returncode == 0, r.stderr
    report = parse_report(r.stdout)
    assert (report.deep, report.deep_reason, report.used_percent) == (deep, reason, percent)
    assert hf.exists() is not deep and torch.exists() is not deep and fresh.exists()
    assert any(c.startswith("docker system prune -af --filter until=72h") for c in calls(root)) is deep


def test_threshold_comes_from_the_settings(root):
    hf = put(root, "home/al/.cache/huggingface/blob", 9)
    r = run(root, percent=60, script=render(DiskCleanupSettings(deepAtPercent=50)))
    assert parse_report(r.stdout).deep_reason == "disk" and not hf.exists()


def test_docker_without_a_daemon_is_skipped_not_an_error(root):
    (root / "bin/docker").write_text('#!/bin/sh\necho "docker $*" >> "$AXIS_CLEAN_ROOT/calls"\nexit 1\n')
    r = run(root, "--deep", percent=10)
    assert r.returncode == 0
    assert steps(r.stdout)["docker system prune -af --filter until=72h (docker daemon not reachable)"]["result"] == "skipped"


# --- report and log ------------------------------------------------------------------------

def test_report_has_df_before_after_and_freed(root):
    r = run(root, percent=10)
    report = parse_report(r.stdout)
    assert report.complete and report.before and report.after and report.freed >= 0
    last = r.stdout.strip().splitlines()[-1]
    assert last.startswith("@@axis:clean before=") and " deep=no " in last


def test_unknown_option_is_refused(root):
    r = run(root, "--everything")
    assert r.returncode == 2 and "unknown option --everything" in r.stderr


def test_run_from_cron_appends_to_the_log_and_prints_nothing(root):
    installed = root / SCRIPT_PATH.lstrip("/")
    installed.parent.mkdir(parents=True)
    installed.write_text(SCRIPT)
    installed.chmod(0o755)
    put(root, "tmp/old", 9)
    log = root / LOG_PATH.lstrip("/")
    first = run(root, percent=10, as_file=installed)
    assert first.returncode == 0 and first.stdout == "" and first.stderr == ""
    text = log.read_text()
    assert text.startswith(MANAGED_MARK) and "@@axis:step tier=safe result=removed files=1" in text
    run(root, percent=10, as_file=installed)
    assert log.read_text().count("@@axis:clean ") == 2 and log.read_text().startswith(MANAGED_MARK)
    assert not (root / "tmp/old").exists()


def test_dry_run_from_cron_path_prints_and_writes_no_log(root):
    installed = root / "etc/cron.daily/axis-disk-cleanup"
    installed.parent.mkdir(parents=True)
    installed.write_text(SCRIPT)
    r = run(root, "--dry-run", percent=10, as_file=installed)
    assert "@@axis:clean " in r.stdout and not (root / LOG_PATH.lstrip("/")).exists()


def test_parse_report_tolerates_noise_and_cut_output():
    partial = parse_report("hello\n@@axis:start date=x\n@@axis:step tier=safe result=removed files=3 bytes=9 dirs=0 "
                           "name=/home/a b/.cache/uv\n")
    assert not partial.complete and partial.steps[0].name == "/home/a b/.cache/uv" and partial.steps[0].files == 3
    assert parse_report("@@axis:skip not applicable on Darwin\n").not_applicable == "Darwin"
    assert parse_report("").complete is False
