"""noSleep on macOS. `mac()` is real output: the facts fixture's `pmset -g` (an M3 Max MacBook
Pro on AC: displaysleep 180, sleep 0 "prevented by ...", disksleep 10) with the sections fixture's
`pmset -g custom` (another MacBook's Battery and AC profiles; tests/fixtures/*/README.md name both).
They come from two machines, so what needs one consistent Mac, a Mac mini on AC whose one profile
is the one in use, is built here (`desktop()`)."""

from __future__ import annotations

import asyncio

from axis.drivers.features.base import MANAGED_MARK, Command, RemoveFile, Step, WriteFile
from axis.drivers.features.execute import run_steps
from axis.drivers.features.no_sleep import (APPLY, RECORD, NoSleep, parse_custom, render_record,
                                            restore_command)
from axis.reconcile.plan import plan_host
from axis.specs.effective import EffectiveFeature
from axis.specs.features import NoSleepSettings
from tests.fake_transport import FakeTransport
from tests.features.hostsim import capture, converge, facts_with, replan, section, summaries, with_files

D = NoSleep()
S = NoSleepSettings()
FLAGS = {"-c": "AC Power", "-b": "Battery Power", "-u": "UPS Power"}
NEVER = ("~", "never sleep: displaysleep 0, sleep 0, disksleep 0")


def mac(sections_fixture: str = "macos-14-arm.sections.txt"):
    return capture(sections_fixture, facts_fixture="macos-14-arm.txt")


#: A Mac mini's timers: AC Power is its only profile and the one in use (built, not captured).
MINI = {"displaysleep": "10", "sleep": "1", "disksleep": "10"}


def desktop():
    """The fixtures' Mac turned into a Mac mini whose `pmset -g` and `pmset -g custom` agree."""
    facts, sections = mac()
    custom = section("noSleep.custom", ["AC Power:", *(f" {k:<20} {v}" for k, v in MINI.items())])
    return facts_with(facts, sleep_settings=dict(MINI)), {**sections, "noSleep.custom": custom}


def by_hand(command):
    """Someone running pmset on the Mac, outside axis."""
    return Step("~", "by hand", Command(command))


def effects(step, facts, sections):
    """pmset -a/-c/-b KEY VALUE ...: change those profiles; the Mac is on AC power."""
    profiles = parse_custom(sections["noSleep.custom"].lines)
    in_use = dict(facts.sleep_settings)
    for part in step.action.command.split("&&"):
        words = part.split()
        assert words[0] == "pmset"
        values = dict(zip(words[2::2], words[3::2], strict=True))
        chosen = list(profiles) if words[1] == "-a" else [FLAGS[words[1]]]
        for name in chosen:
            profiles[name].update(values)
        if "AC Power" in chosen:
            in_use.update(values)
    lines = [line for name, values in profiles.items() for line in (f"{name}:", *(f" {k} {v}" for k, v in values.items()))]
    return facts_with(facts, sleep_settings=in_use), {**sections, "noSleep.custom": section("noSleep.custom", lines)}


def test_facts_and_profiles_as_parsed():
    facts, sections = mac()
    # "sleep 0 (sleep prevented by coreaudiod, ...)" in use: the value, not the reason
    assert {k: facts.sleep_settings[k] for k in ("displaysleep", "sleep", "disksleep")} == \
        {"displaysleep": "180", "sleep": "0", "disksleep": "10"}
    profiles = D.observe(sections).profiles
    assert list(profiles) == ["Battery Power", "AC Power"]
    assert profiles["AC Power"]["Sleep On Power Button"] == "1"
    assert {k: profiles["Battery Power"][k] for k in MINI} == {"displaysleep": "2", "sleep": "1", "disksleep": "10"}


def test_sleep_zero_in_use_still_converges_the_profiles_that_sleep():
    """The real Mac's `pmset -g` already says sleep 0 (displaysleep 180): its profiles still
    sleep, so the previous values are recorded and all three timers set to 0."""
    facts, sections = mac()
    steps = D.plan(S, D.observe(sections), facts).steps
    assert summaries(steps) == [("+", f"create {RECORD} (the sleep settings before axis)"), NEVER]
    assert steps[0].action.content.splitlines()[1:] == [b"Battery Power: displaysleep=2 sleep=1 disksleep=10",
                                                        b"AC Power: displaysleep=10 sleep=1 disksleep=10"]


def test_from_scratch_records_the_previous_values_then_sets_zero():
    facts, sections = desktop()
    steps = D.plan(S, D.observe(sections), facts).steps
    assert summaries(steps) == [("+", f"create {RECORD} (the sleep settings before axis)"), NEVER]
    assert steps[0].action == WriteFile(RECORD, render_record({"AC Power": {"displaysleep": "10", "sleep": "1",
                                                                             "disksleep": "10"}}).encode(),
                                        expect="absent")
    assert steps[0].action.content.startswith(MANAGED_MARK.encode())
    assert steps[0].action.content.splitlines()[1] == b"AC Power: displaysleep=10 sleep=1 disksleep=10"
    assert steps[1].action.command == APPLY == "pmset -a displaysleep 0 sleep 0 disksleep 0"


def test_second_plan_on_the_converged_mac_is_empty():
    facts, sections = mac()
    _, facts, sections = converge(D, S, facts, sections, effects)
    assert replan(D, S, facts, sections) == []


def test_the_record_is_never_overwritten():
    facts, sections = mac()
    _, facts, sections = converge(D, S, facts, sections, effects)
    record = D.observe(sections).record
    facts, sections = effects(by_hand("pmset -c displaysleep 5"), facts, sections)  # someone changed it
    steps = D.plan(S, D.observe(sections), facts).steps
    assert summaries(steps) == [NEVER] and D.observe(sections).record == record


def test_false_restores_exactly_the_recorded_values_then_nothing():
    facts, sections = desktop()
    before = dict(facts.sleep_settings)
    _, facts, sections = converge(D, S, facts, sections, effects)
    steps, facts, sections = converge(D, False, facts, sections, effects)
    assert summaries(steps) == [
        ("~", "restore the sleep settings from before axis (AC Power: displaysleep 10 sleep 1 disksleep 10)"),
        ("-", f"remove {RECORD} (the settings axis restored)")]
    assert steps[0].action.command == "pmset -c displaysleep 10 sleep 1 disksleep 10"
    assert steps[1].action == RemoveFile(RECORD)
    assert facts.sleep_settings == before
    assert replan(D, False, facts, sections) == []


def test_false_without_a_record_touches_nothing():
    facts, sections = mac()
    state = D.observe(sections)
    assert D.plan(False, state, facts).steps == []
    assert D.plan(False, state, facts).notes == ["axis did not change the sleep settings: left as they are"]


def test_laptop_records_and_restores_each_power_source():
    facts, sections = mac()
    steps, facts, sections = converge(D, S, facts, sections, effects)
    assert steps[0].action.content.splitlines()[1:] == [b"Battery Power: displaysleep=2 sleep=1 disksleep=10",
                                                        b"AC Power: displaysleep=10 sleep=1 disksleep=10"]
    assert replan(D, S, facts, sections) == []
    restore = D.plan(False, D.observe(sections), facts).steps[0].action.command
    assert restore == "pmset -b displaysleep 2 sleep 1 disksleep 10 && pmset -c displaysleep 10 sleep 1 disksleep 10"


def test_a_battery_profile_that_still_sleeps_is_converged_too():
    facts, sections = mac()
    facts, sections = effects(by_hand("pmset -c displaysleep 0 sleep 0 disksleep 0"), facts, sections)
    assert summaries(D.plan(S, D.observe(sections), facts).steps)[-1] == NEVER


def test_without_profiles_the_facts_are_recorded_and_restored_with_a():
    """`pmset -g custom` answered but listed no power source: the settings in use are recorded."""
    facts, sections = mac()
    sections = {**sections, "noSleep.custom": section("noSleep.custom", [])}
    steps = D.plan(S, D.observe(sections), facts).steps
    assert steps[0].action.content.splitlines()[1] == b"All: displaysleep=180 sleep=0 disksleep=10"
    sections = with_files(D, S, sections, {RECORD: steps[0].action.content})
    assert D.plan(False, D.observe(sections), facts).steps[0].action.command == \
        "pmset -a displaysleep 180 sleep 0 disksleep 10"


def test_failed_profile_probe_plans_nothing_rather_than_record_a_guess():
    """The record is what `noSleep: false` restores: one made while the profiles could not be read
    would restore the wrong values, so nothing is planned and the reason is the host's."""
    facts, sections = mac()
    sections = {**sections, "noSleep.custom": section("noSleep.custom", [], 1, ["pmset: not permitted"])}
    for settings in (S, False):
        plan = plan_host({"noSleep": EffectiveFeature("noSleep", settings, "Host")}, sections, facts)[0]
        assert plan.steps == [] and plan.error == \
            "cannot read the power profiles (pmset -g custom): pmset: not permitted (exit 1)"


def test_odd_values_in_a_record_are_never_pasted_into_a_command():
    facts, sections = mac()
    record = f"{MANAGED_MARK}: noSleep\nAC Power: displaysleep=10 sleep=$(reboot)\nBattery Power: sleep=3;reboot\n"
    sections = with_files(D, False, sections, {RECORD: record})
    assert D.observe(sections).saved == {}
    assert restore_command({"AC Power": {"sleep": "$(reboot)", "disksleep": "7"}}) == "pmset -c disksleep 7"
    assert summaries(D.plan(False, D.observe(sections), facts).steps) == [("-", f"remove {RECORD} (the settings axis restored)")]


def test_not_applicable_on_linux():
    facts, sections = capture("debian12-container.txt")
    plan = plan_host({"noSleep": EffectiveFeature("noSleep", S, "Host")}, sections, facts)[0]
    assert not plan.applicable and plan.steps == [] and plan.notes == ["not applicable on linux"]


def test_steps_run_through_the_transport():
    facts, sections = mac()
    steps = D.plan(S, D.observe(sections), facts).steps
    t = FakeTransport(login_is_root=False).script(r"pmset -a")
    results = asyncio.run(run_steps(t, steps))
    assert [r.status for r in results] == ["done", "done"]
    assert t.calls == [f"put {RECORD}", "sudo -n sh -c 'pmset -a displaysleep 0 sleep 0 disksleep 0'"]
