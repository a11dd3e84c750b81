"""earlyoom on real probe output from a Debian 12 container (apt, no systemd as pid 1)."""

from __future__ import annotations

import asyncio
import shlex
import subprocess

from axis.drivers.features.base import MANAGED_MARK, RemoveFile, WriteFile
from axis.drivers.features.earlyoom import MARKER, Earlyoom
from axis.drivers.features.packages import apt_install_command, marker_text, package_probe
from axis.drivers.features.execute import run_steps
from axis.specs.features import EarlyoomSettings
from tests.fake_transport import FakeTransport
from tests.features.hostsim import capture, converge, facts_with, file_section, package_changed, package_section, replan, summaries

D = Earlyoom()
S = EarlyoomSettings()


def debian(systemd: bool = False):
    facts, sections = capture("debian12-container.txt")
    return (facts_with(facts, init_system="systemd") if systemd else facts), sections


def pkg(sections, **change):
    """The package probe's answer for the host as it is (observed) with `change` made."""
    return package_changed(D, sections, "earlyoom.pkg", "earlyoom", **change)


def effects(step, facts, sections, *, refuse_live=False):
    """apt installs (Debian's postinst enables the unit), systemctl starts/stops, purge removes."""
    command = step.action.command
    if "install -y earlyoom" in command:
        return facts, pkg(sections, installed=True, enabled="enabled")
    if refuse_live and step.live:
        return facts, sections
    if command.startswith("systemctl enable --now"):
        return facts, pkg(sections, enabled="enabled", active="active")
    if command.startswith("systemctl disable --now"):
        return facts, pkg(sections, enabled="disabled", active="inactive")
    if "purge -y earlyoom" in command:
        return facts, pkg(sections, installed=False, enabled="not-found", active="inactive")
    raise AssertionError(command)


def test_captured_probe_reads_apt_and_nothing_installed():
    _, sections = debian()
    state = D.observe(sections)
    assert (state.manager, state.installed, state.lists, state.enabled, state.active, state.marker) == \
        ("apt-get", False, 3, "not-found", "", False)


def test_from_scratch_installs_records_and_enables():
    facts, sections = debian(systemd=True)
    steps = D.plan(S, D.observe(sections), facts).steps
    assert summaries(steps) == [
        ("+", "install package earlyoom (apt-get)"),
        ("+", f"create {MARKER} (remember that axis installed earlyoom)"),
        ("~", "enable and start the earlyoom service"),
    ]
    assert steps[0].action.command == apt_install_command("earlyoom", lists_empty=False)
    assert "DEBIAN_FRONTEND=noninteractive apt-get install -y earlyoom" in steps[0].action.command
    assert steps[1].action == WriteFile(MARKER, marker_text("earlyoom").encode(), expect="absent")
    assert steps[1].action.content.startswith(MANAGED_MARK.encode())
    assert steps[2].target == "systemctl enable --now earlyoom" and not steps[2].live


def test_without_systemd_the_enable_step_is_live_and_refusal_is_stable():
    facts, sections = debian()
    assert facts.init_system == "process_api"
    steps, facts, sections = converge(D, S, facts, sections, lambda st, f, s: effects(st, f, s, refuse_live=True))
    assert steps[-1].live
    again = replan(D, S, facts, sections)
    assert [s.key for s in again] == [steps[-1].key]


def test_second_plan_on_the_converged_host_is_empty():
    facts, sections = debian(systemd=True)
    _, facts, sections = converge(D, S, facts, sections, effects)
    assert replan(D, S, facts, sections) == []


def test_empty_package_lists_update_first():
    facts, sections = debian(systemd=True)
    steps = D.plan(S, D.observe(pkg(sections, lists=0)), facts).steps
    assert steps[0].action.command == "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y earlyoom"


def test_dnf_host_uses_dnf():
    facts, sections = debian(systemd=True)
    sections = {**sections, "earlyoom.pkg": package_section("earlyoom.pkg", "earlyoom", manager="dnf")}
    steps = D.plan(S, D.observe(sections), facts).steps
    assert steps[0].action.command == "dnf install -y earlyoom"
    sections = {**sections, "earlyoom.pkg": package_section("earlyoom.pkg", "earlyoom", manager="dnf", installed=True),
                "earlyoom.marker": file_section("earlyoom.marker", marker_text("earlyoom"))}
    assert "dnf remove -y earlyoom" in [s.target for s in D.plan(False, D.observe(sections), facts).steps]


def test_installed_by_someone_else_is_enabled_but_never_purged():
    facts, sections = debian(systemd=True)
    _, real = capture("debian12-installed-and-file.txt")  # a real `dpkg ii` + `static` probe answer
    sections = {**sections, "earlyoom.pkg": real["earlyoom.pkg"]}
    state = D.observe(sections)
    assert state.installed and not state.marker
    assert summaries(D.plan(S, state, facts).steps) == [("~", "enable and start the earlyoom service")]
    assert D.plan(S, state, facts).notes == ["earlyoom was installed before axis: `false` would leave it installed"]
    assert D.plan(False, state, facts).steps == []
    assert D.plan(False, state, facts).notes == ["earlyoom was not installed by axis: left installed, no longer managed"]


def test_false_disables_and_purges_what_axis_installed_then_nothing():
    facts, sections = debian(systemd=True)
    _, facts, sections = converge(D, S, facts, sections, effects)
    steps, facts, sections = converge(D, False, facts, sections, effects)
    assert summaries(steps) == [
        ("~", "stop and disable the earlyoom service"),
        ("-", "remove package earlyoom (axis installed it)"),
        ("-", f"remove {MARKER} (axis installed earlyoom)"),
    ]
    assert steps[1].action.command == "DEBIAN_FRONTEND=noninteractive apt-get purge -y earlyoom"
    assert steps[2].action == RemoveFile(MARKER)
    assert replan(D, False, facts, sections) == []


def test_marker_of_a_package_removed_by_hand_is_just_forgotten():
    facts, sections = debian(systemd=True)
    sections = {**sections, "earlyoom.marker": file_section("earlyoom.marker", marker_text("earlyoom"))}
    assert summaries(D.plan(False, D.observe(sections), facts).steps) == [("-", f"remove {MARKER} (axis installed earlyoom)")]


def test_odd_package_names_are_quoted_in_the_helpers():
    odd = "x';touch${IFS}PWNED;'"
    for command in (package_probe(odd, odd), apt_install_command(odd, True), apt_install_command(odd, False)):
        assert shlex.quote(odd) in command
        assert subprocess.run(["sh", "-n", "-c", command]).returncode == 0


def test_steps_run_through_the_transport_missing_package_fails_with_apt_message():
    facts, sections = debian(systemd=True)
    steps = D.plan(S, D.observe(sections), facts).steps
    t = FakeTransport().script(r"apt-get", stderr="E: Unable to locate package earlyoom", exit_status=100)
    results = asyncio.run(run_steps(t, steps))
    assert [r.status for r in results] == ["failed"]  # the marker is not written, nothing enabled
    assert "Unable to locate package earlyoom" in results[0].message and t.files == {}


def test_steps_run_through_the_transport_in_a_container_enable_is_refused():
    facts, sections = debian()
    steps = D.plan(S, D.observe(sections), facts).steps
    msg = "System has not been booted with systemd as init system (PID 1). Can't operate."
    t = (FakeTransport(login_is_root=False)
         .script(r"apt-get", stdout="Setting up earlyoom (1.7-1) ...")
         .script(r"systemctl enable", stderr=msg, exit_status=1))
    results = asyncio.run(run_steps(t, steps))
    assert [r.status for r in results] == ["done", "done", "refused"]
    assert msg in results[2].message and list(t.files) == [MARKER]
    assert t.calls[0].startswith("sudo -n sh -c ")
