"""persistentJournal on real probe output from a Debian 12 container: Debian's systemd package
ships /var/log/journal, journald is not running (no machine-id directory in it)."""

from __future__ import annotations

import asyncio

from axis.drivers.features.base import WriteFile
from axis.drivers.features.execute import run_steps
from axis.drivers.features.persistent_journal import JOURNAL_DIR, MARKER, PROBE, PersistentJournal, marker_text
from axis.specs.features import PersistentJournalSettings
from tests.fake_transport import FakeTransport
from tests.features.hostsim import capture, converge, facts_with, replan, section, summaries

D = PersistentJournal()
S = PersistentJournalSettings()
RESTART = ("~", "restart systemd-journald")


def debian(dir_lines: list[str] | None = None):
    facts, sections = capture("debian12-container.txt")
    facts = facts_with(facts, init_system="systemd")
    if dir_lines is not None:
        sections = {**sections, "persistentJournal.dir": section("persistentJournal.dir", dir_lines)}
    return facts, sections


def effects(step, facts, sections, *, refuse_live=False):
    command = step.action.command
    if command.startswith("mkdir -p"):
        return facts, {**sections, "persistentJournal.dir": section("persistentJournal.dir", ["dir: yes"])}
    if command.startswith("rm -rf"):
        return facts, {**sections, "persistentJournal.dir": section("persistentJournal.dir", ["dir: no"])}
    if refuse_live and step.live:
        return facts, sections
    if command == "systemctl restart systemd-journald":
        lines = sections["persistentJournal.dir"].lines
        if "dir: yes" in lines and "persisting: yes" not in lines:
            lines = [*lines, "persisting: yes"]
        return facts, {**sections, "persistentJournal.dir": section("persistentJournal.dir", lines)}
    raise AssertionError(command)


def test_captured_state_dir_exists_but_journald_does_not_write_there():
    _, sections = debian()
    state = D.observe(sections)
    assert (state.dir, state.persisting, state.storage, state.created_by_axis) == ("yes", False, "", False)


def test_existing_directory_only_needs_the_restart_and_is_not_claimed():
    facts, sections = debian()
    steps = D.plan(S, D.observe(sections), facts).steps
    assert summaries(steps) == [RESTART] and steps[0].live


def test_from_scratch_claims_creates_and_restarts_then_nothing():
    facts, sections = debian(["dir: no"])
    steps, facts, sections = converge(D, S, facts, sections, effects)
    assert summaries(steps) == [("+", f"create {MARKER} (remember that axis created {JOURNAL_DIR})"),
                                ("+", f"create {JOURNAL_DIR}"), RESTART]
    assert steps[0].action == WriteFile(MARKER, marker_text().encode(), expect="absent")
    assert steps[1].action.command == ("mkdir -p /var/log/journal && { ! command -v systemd-tmpfiles >/dev/null 2>&1 "
                                       "|| systemd-tmpfiles --create --prefix /var/log/journal; }")
    assert replan(D, S, facts, sections) == []


def test_refused_restart_is_planned_again_with_the_same_key():
    facts, sections = debian(["dir: no"])
    steps, facts, sections = converge(D, S, facts, sections, lambda st, f, s: effects(st, f, s, refuse_live=True))
    assert [s.key for s in replan(D, S, facts, sections)] == [steps[-1].key]


def test_volatile_storage_plans_no_restart_and_says_why():
    facts, sections = debian(["dir: yes", "storage: volatile"])
    state = D.observe(sections)
    assert D.plan(S, state, facts).steps == []
    assert D.plan(S, state, facts).notes == [f"journald has Storage=volatile: it does not use {JOURNAL_DIR}"]


def test_false_removes_only_a_directory_axis_created():
    facts, sections = debian()
    assert D.plan(False, D.observe(sections), facts).steps == []  # Debian's own directory stays
    assert D.plan(False, D.observe(sections), facts).notes == [f"{JOURNAL_DIR} was not created by axis: left as it is"]
    facts, sections = debian(["dir: no"])
    _, facts, sections = converge(D, S, facts, sections, effects)
    steps, facts, sections = converge(D, False, facts, sections, effects)
    assert summaries(steps) == [("-", f"remove {JOURNAL_DIR} (axis created it; its journal files go too)"), RESTART,
                                ("-", f"remove {MARKER} (axis created {JOURNAL_DIR})")]
    assert steps[0].action.command == "rm -rf -- /var/log/journal"
    assert replan(D, False, facts, sections) == []


def test_a_file_in_the_way_is_left_alone():
    facts, sections = debian(["dir: other"])
    assert D.plan(S, D.observe(sections), facts).steps == []
    assert D.plan(S, D.observe(sections), facts).notes == [f"{JOURNAL_DIR} exists but is not a directory: left alone"]


def test_probe_is_plain_sh():
    import subprocess
    done = subprocess.run(["sh", "-c", PROBE], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.splitlines()[0] in ("dir: yes", "dir: no", "dir: other")


def test_steps_run_through_the_transport():
    facts, sections = debian(["dir: no"])
    steps = D.plan(S, D.observe(sections), facts).steps
    msg = "System has not been booted with systemd as init system (PID 1). Can't operate."
    t = FakeTransport().script(r"^mkdir -p /var/log/journal").script(r"systemctl restart", stderr=msg, exit_status=1)
    results = asyncio.run(run_steps(t, steps))
    assert [r.status for r in results] == ["done", "done", "refused"] and msg in results[2].message
    assert t.calls[0] == f"put {MARKER}"
