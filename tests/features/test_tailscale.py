"""tailscale on real probe output from a Debian 12 container (apt; tailscale's repository is not
configured) and on a Mac (the facts fixture plus a hand-written Homebrew probe answer)."""

from __future__ import annotations

import asyncio

from axis.drivers.features.base import RemoveFile
from axis.drivers.features.packages import marker_text
from axis.drivers.features.execute import run_steps
from axis.drivers.features.tailscale import MANUAL, MARKER, Tailscale
from axis.specs.features import TailscaleSettings
from tests.fake_transport import FakeTransport
from tests.features.hostsim import capture, converge, facts_with, package_changed, package_section, replan, summaries

D = Tailscale()
S = TailscaleSettings()
BREW = "/opt/homebrew/bin/brew"


def debian(systemd: bool = True):
    facts, sections = capture("debian12-container.txt")
    return (facts_with(facts, init_system="systemd") if systemd else facts), sections


def mac(installed: bool = True):
    facts, sections = capture("macos-14-arm.sections.txt", facts_fixture="macos-14-arm.txt")
    if not installed:
        sections = {**sections, "tailscale.pkg": package_section("tailscale.pkg", "tailscale", manager="brew")}
    return facts, sections


def pkg(sections, **change):
    """The package probe's answer for the host as it is (observed) with `change` made."""
    return package_changed(D, sections, "tailscale.pkg", "tailscale", **change)


def effects(step, facts, sections):
    command = step.action.command
    if "install -y tailscale" in command or command == f"{BREW} install tailscale":
        return facts, pkg(sections, installed=True)
    if command in ("systemctl enable --now tailscaled", f"{BREW} services start tailscale"):
        return facts, pkg(sections, enabled="enabled", active="active")
    if command in ("systemctl disable --now tailscaled", f"{BREW} services stop tailscale"):
        return facts, pkg(sections, enabled="disabled" if "systemctl" in command else "", active="inactive" if "systemctl" in command else "")
    if "purge -y tailscale" in command or command == f"{BREW} uninstall tailscale":
        return facts, pkg(sections, installed=False)
    raise AssertionError(command)


def test_linux_from_scratch_installs_records_enables_and_leaves_up_manual():
    facts, sections = debian()
    state = D.observe(sections)
    steps = D.plan(S, state, facts).steps
    assert summaries(steps) == [("+", "install package tailscale (apt-get)"),
                                ("+", f"create {MARKER} (remember that axis installed tailscale)"),
                                ("~", "enable and start the tailscaled service")]
    assert "DEBIAN_FRONTEND=noninteractive apt-get install -y tailscale" in steps[0].action.command
    assert steps[2].target == "systemctl enable --now tailscaled" and not steps[2].live
    assert D.plan(S, state, facts).notes == [MANUAL]
    assert "tailscale up" in MANUAL


def test_linux_without_systemd_the_service_step_is_live():
    facts, sections = debian(systemd=False)
    assert D.plan(S, D.observe(sections), facts).steps[-1].live


def test_linux_second_plan_is_empty_and_false_removes_only_what_axis_installed():
    facts, sections = debian()
    _, facts, sections = converge(D, S, facts, sections, effects)
    assert replan(D, S, facts, sections) == []
    steps, facts, sections = converge(D, False, facts, sections, effects)
    assert summaries(steps) == [("~", "stop and disable the tailscaled service"),
                                ("-", "remove package tailscale (axis installed it)"),
                                ("-", f"remove {MARKER} (axis installed tailscale)")]
    assert replan(D, False, facts, sections) == []


def test_linux_installed_by_someone_else_is_left_installed_on_false():
    facts, sections = debian()
    sections = pkg(sections, installed=True, enabled="enabled", active="active")
    state = D.observe(sections)
    assert D.plan(S, state, facts).steps == [] and D.plan(False, state, facts).steps == []
    assert D.plan(False, state, facts).notes == ["tailscale was not installed by axis: left installed, no longer managed"]


def test_linux_package_missing_from_the_sources_fails_with_apt_message():
    facts, sections = debian()
    steps = D.plan(S, D.observe(sections), facts).steps
    t = FakeTransport().script(r"apt-get", stderr="E: Unable to locate package tailscale", exit_status=100)
    results = asyncio.run(run_steps(t, steps))
    assert [r.status for r in results] == ["failed"] and "Unable to locate package tailscale" in results[0].message
    assert t.files == {}


def test_linux_steps_run_through_the_transport():
    facts, sections = debian()
    steps = D.plan(S, D.observe(sections), facts).steps
    t = FakeTransport(login_is_root=False).script(r"apt-get").script(r"systemctl enable --now tailscaled")
    results = asyncio.run(run_steps(t, steps))
    assert [r.status for r in results] == ["done", "done", "done"]
    assert t.files[MARKER][0].decode() == marker_text("tailscale")
    assert t.calls[-1] == "sudo -n sh -c 'systemctl enable --now tailscaled'"


def test_mac_installed_by_the_user_only_starts_the_root_daemon():
    facts, sections = mac(installed=True)
    state = D.observe(sections)
    steps = D.plan(S, state, facts).steps
    assert summaries(steps) == [("~", "start the tailscale service (root LaunchDaemon)")]
    assert steps[0].action.command == f"{BREW} services start tailscale" and steps[0].action.as_root
    assert D.plan(S, state, facts).notes == [
        "tailscale was installed before axis: `false` would leave it installed", MANUAL]


def test_mac_from_scratch_brew_installs_as_the_login_user_then_converges():
    facts, sections = mac(installed=False)
    steps, facts, sections = converge(D, S, facts, sections, effects)
    assert summaries(steps) == [("+", "install package tailscale (brew)"),
                                ("+", f"create {MARKER} (remember that axis installed tailscale)"),
                                ("~", "start the tailscale service (root LaunchDaemon)")]
    assert steps[0].action.command == f"{BREW} install tailscale" and not steps[0].action.as_root
    assert steps[2].action.as_root
    assert replan(D, S, facts, sections) == []
    steps, facts, sections = converge(D, False, facts, sections, effects)
    assert summaries(steps) == [("~", "stop the tailscale service"),
                                ("-", "remove package tailscale (axis installed it)"),
                                ("-", f"remove {MARKER} (axis installed tailscale)")]
    assert steps[0].action.as_root and not steps[1].action.as_root and steps[2].action == RemoveFile(MARKER)
    assert replan(D, False, facts, sections) == []


def test_mac_steps_run_through_the_transport():
    facts, sections = mac(installed=False)
    steps = D.plan(S, D.observe(sections), facts).steps
    t = FakeTransport(login_is_root=False).script(r"brew install").script(r"brew services start")
    results = asyncio.run(run_steps(t, steps))
    assert [r.status for r in results] == ["done", "done", "done"]
    assert t.calls[-1] == f"sudo -n sh -c '{BREW} services start tailscale'"
