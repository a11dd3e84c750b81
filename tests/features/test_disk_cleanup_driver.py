"""The diskCleanup driver's observe/plan on real facts captures: from scratch, converged, changed
settings, removal (only what axis marked), the no-cron note, and not applicable on macOS."""

from __future__ import annotations

from pathlib import Path

from axis.drivers.features import DRIVERS
from axis.drivers.features.base import MANAGED_MARK, RemoveFile, WriteFile
from axis.drivers.features.cleanup_script import LOG_PATH, SCRIPT_PATH, render
from axis.drivers.features.disk_cleanup import DiskCleanup
from axis.reconcile.plan import feature_probes, plan_host
from axis.specs.effective import EffectiveFeature
from axis.specs.features import DiskCleanupSettings
from tests.factskit import boundary_of, parse, section, split, with_sections
from tests.features.hostsim import hexdump

FACTS = Path(__file__).resolve().parent.parent / "fixtures" / "facts"
CRON_OK = "runner=/usr/sbin/cron\ndaily=yes\n"
LOG_HEAD = f"{MANAGED_MARK}: diskCleanup log (removed with the feature)\n"


#: The driver's probes that print a file (as a hex dump; exit 3 when there is no such file).
FILE_SECTIONS = {"diskCleanup.script", "diskCleanup.log"}


def _output(fixture: str, sections: dict[str, str | None], rc: dict[str, int] | None = None) -> str:
    """A real facts capture plus the driver's sections framed as the facts script frames them
    (None: no such file, exit 3; or the exit status `rc` gives, with od's "Permission denied")."""
    text = (FACTS / fixture).read_text()
    out = []
    for name, body in sections.items():
        status = (rc or {}).get(name, 0 if body is not None else 3)
        stdout = "\n".join(hexdump(body.encode())) if body is not None and name in FILE_SECTIONS else body or ""
        stderr = [] if status == 0 else [f"od: {name}: " + ("No such file or directory" if status == 3
                                                             else "Permission denied")]
        out.append(section(boundary_of(text), name, stdout, status, stderr))
    return with_sections(text, out)


def _plan(settings, script: str | None, log: str | None = None, cron: str = CRON_OK,
          fixture: str = "debian12.txt", mode: str | None = "755\n"):
    features = {"diskCleanup": EffectiveFeature("diskCleanup", settings, "Host")}
    out = _output(fixture, {"diskCleanup.script": script, "diskCleanup.log": log, "diskCleanup.cron": cron,
                            "diskCleanup.mode": mode if script is not None else None})
    return plan_host(features, split(out).sections, parse(out))[0]


def _summaries(plan) -> list[tuple[str, str]]:
    return [(s.op, s.summary) for s in plan.steps]


def test_registered_with_its_probes():
    assert isinstance(DRIVERS["diskCleanup"], DiskCleanup)
    probes = feature_probes({"diskCleanup": EffectiveFeature("diskCleanup", DiskCleanupSettings(), "Host")})
    assert set(probes) == {"diskCleanup.script", "diskCleanup.log", "diskCleanup.cron", "diskCleanup.mode"}
    assert probes["diskCleanup.script"].path == SCRIPT_PATH and probes["diskCleanup.script"].as_root
    assert probes["diskCleanup.log"].path == LOG_PATH and " -N 256 " in probes["diskCleanup.log"].command


def test_from_scratch_creates_the_cron_script_executable():
    settings = DiskCleanupSettings(retentionDays=5, deepAtPercent=90)
    plan = _plan(settings, None)
    assert _summaries(plan) == [
        ("+", f"create {SCRIPT_PATH} (daily disk clean-up, retention 5d, deep tier at 90%)")]
    action = plan.steps[0].action
    assert isinstance(action, WriteFile) and action.mode == 0o755 and action.content == render(settings).encode()
    assert action.content.startswith(f"#!/bin/sh\n{MANAGED_MARK}".encode())


def test_converged_host_plans_nothing():
    settings = DiskCleanupSettings()
    plan = _plan(settings, render(settings), log=LOG_HEAD)
    assert plan.steps == [] and not plan.changes


def test_a_script_chmod_ed_by_hand_gets_its_mode_back():
    """cron skips a script that is not executable: same content, wrong mode is drift too."""
    settings = DiskCleanupSettings()
    plan = _plan(settings, render(settings), log=LOG_HEAD, mode="644\n")
    assert _summaries(plan) == [("~", f"restore mode 755 of {SCRIPT_PATH} (is 644; daily disk clean-up, "
                                      "retention 3d, deep tier at 85%)")]
    assert isinstance(plan.steps[0].action, WriteFile) and plan.steps[0].action.mode == 0o755


def test_changed_settings_update_the_script_with_a_diff():
    plan = _plan(DiskCleanupSettings(retentionDays=7), render(DiskCleanupSettings(retentionDays=3)))
    assert [s.op for s in plan.steps] == ["~"]
    assert "-RETENTION_DAYS=3" in plan.steps[0].detail and "+RETENTION_DAYS=7" in plan.steps[0].detail


def test_hand_edited_script_is_put_back():
    settings = DiskCleanupSettings()
    plan = _plan(settings, render(settings).replace("RETENTION_DAYS=3", "RETENTION_DAYS=300"))
    assert [s.op for s in plan.steps] == ["~"]


def test_false_removes_the_script_and_the_log_it_created():
    plan = _plan(False, render(DiskCleanupSettings()), log=LOG_HEAD)
    assert _summaries(plan) == [("-", f"remove {SCRIPT_PATH} (daily disk clean-up)"),
                                ("-", f"remove {LOG_PATH} (disk clean-up log)")]
    assert [s.action for s in plan.steps] == [RemoveFile(SCRIPT_PATH), RemoveFile(LOG_PATH)]


def test_false_leaves_files_axis_did_not_write():
    plan = _plan(False, "#!/bin/sh\n# someone's own clean-up\nfind /tmp -delete\n", log="Mon Jan 1 cleanup ran\n")
    assert plan.steps == []


def test_false_on_a_clean_host_plans_nothing():
    assert _plan(False, None, log=None).steps == []


def test_no_cron_daemon_still_installs_and_says_so():
    settings = DiskCleanupSettings()
    plan = _plan(settings, None, cron="daily=no\n")
    [step] = plan.steps
    assert isinstance(step.action, WriteFile) and step.action.path == SCRIPT_PATH
    assert "no cron daemon found on the host" in step.summary
    # once the file is there the plan is empty; the driver's notes still say it
    driver = DRIVERS["diskCleanup"]
    out = _output("debian12.txt", {"diskCleanup.script": render(settings), "diskCleanup.log": None,
                                   "diskCleanup.cron": "daily=yes\n", "diskCleanup.mode": "755\n"})
    state = driver.observe(split(out).sections)
    assert driver.plan(settings, state, parse(out)).steps == []
    assert driver.plan(settings, state, parse(out)).notes == [
        "no cron daemon found on the host: the script will not run until one is installed"]
    assert driver.plan(False, state, parse(out)).notes == []


def test_cron_without_cron_daily_is_mentioned():
    [step] = _plan(DiskCleanupSettings(), None, cron="runner=/usr/sbin/crond\ndaily=no\n").steps
    assert "no /etc/cron.daily" in step.summary


def test_cron_probe_that_failed_plans_nothing_and_says_why():
    """The cron probe exits 0 whatever it finds: a failure (output cut off) is unknown, not "no cron"."""
    settings = DiskCleanupSettings()
    features = {"diskCleanup": EffectiveFeature("diskCleanup", settings, "Host")}
    out = _output("debian12.txt", {"diskCleanup.script": None, "diskCleanup.log": None, "diskCleanup.cron": "",
                                   "diskCleanup.mode": None}, rc={"diskCleanup.cron": 1})
    plan = plan_host(features, split(out).sections, parse(out))[0]
    assert plan.steps == []
    assert plan.error == "cannot read the host's cron: od: diskCleanup.cron: Permission denied (exit 1)"


def test_unreadable_script_or_mode_plans_nothing_for_either_setting():
    """A root-only script the login user cannot read is not absent: no create over it, no removal."""
    for settings in (DiskCleanupSettings(), False):
        features = {"diskCleanup": EffectiveFeature("diskCleanup", settings, "Host")}
        for broken in ("diskCleanup.script", "diskCleanup.mode", "diskCleanup.log"):
            healthy = {"diskCleanup.script": render(DiskCleanupSettings()), "diskCleanup.log": LOG_HEAD,
                       "diskCleanup.cron": CRON_OK, "diskCleanup.mode": "755\n"}
            out = _output("debian12.txt", {**healthy, broken: ""}, rc={broken: 1})
            plan = plan_host(features, split(out).sections, parse(out))[0]
            assert plan.steps == [] and "Permission denied" in plan.error, (settings, broken, plan)


def test_not_applicable_on_macos():
    plan = _plan(DiskCleanupSettings(), None, fixture="macos-14-arm.txt")
    assert not plan.applicable and plan.steps == [] and plan.notes == ["not applicable on macos"]
