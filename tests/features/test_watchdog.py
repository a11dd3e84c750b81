"""watchdog on real probe output from a Debian 12 container (no softdog, no systemd manager)."""

from __future__ import annotations

import asyncio

from axis.drivers.features.base import MANAGED_MARK, RemoveFile
from axis.drivers.features.execute import run_steps
from axis.drivers.features.watchdog import MODULES, SYSTEM, Watchdog, render_system, timespan
from axis.specs.features import WatchdogSettings
from tests.fake_transport import FakeTransport
from tests.features.hostsim import capture, converge, files_seen, replan, section, summaries, with_files

D = Watchdog()
S = WatchdogSettings(timeoutSeconds=30)
MODPROBE = ("~", "load the softdog module")
REEXEC = ("~", "re-execute systemd to apply the watchdog settings")


def debian():
    return capture("debian12-container.txt")


def effects(step, facts, sections, *, refuse_live=False, settings=S):
    lines = dict(line.split(":", 1) for line in sections["watchdog.live"].lines)
    if refuse_live and step.live:
        return facts, sections
    if step.action.command == "modprobe softdog":
        lines["softdog"] = " loaded"
    elif step.action.command == "systemctl daemon-reexec":
        wanted = settings.timeout_seconds if SYSTEM in files_seen(D, settings, sections) else 0
        lines.pop("systemd", None)  # systemd runs here, and `systemctl show` answers (probes.ASK_FN)
        lines["runtime.rc"], lines["runtime"] = " 0", " " + timespan(wanted)
    return facts, {**sections, "watchdog.live": section("watchdog.live", [f"{k}:{v}" for k, v in lines.items()])}


def test_captured_state():
    state = D.observe(debian()[1])
    assert (state.modules, state.system, state.softdog_loaded, state.runtime) == (None, None, False, "")


def test_from_scratch_writes_both_files_and_runs_the_live_steps():
    facts, sections = debian()
    steps = D.plan(S, D.observe(sections), facts).steps
    assert summaries(steps) == [("+", f"create {MODULES} (softdog at boot)"),
                                ("+", f"create {SYSTEM} (RuntimeWatchdogSec=30s)"), MODPROBE, REEXEC]
    assert [s.live for s in steps] == [False, False, True, True]
    assert steps[0].action.content == f"{MANAGED_MARK}: watchdog\nsoftdog\n".encode()
    assert steps[1].action.content == (f"{MANAGED_MARK}: watchdog\n[Manager]\nRuntimeWatchdogSec=30s\n"
                                       "ShutdownWatchdogSec=4min\n").encode()


def test_second_plan_on_the_converged_host_is_empty():
    facts, sections = debian()
    _, facts, sections = converge(D, S, facts, sections, effects)
    assert replan(D, S, facts, sections) == []


def test_refused_live_steps_come_back_with_the_same_keys():
    facts, sections = debian()
    steps, facts, sections = converge(D, S, facts, sections, lambda st, f, s: effects(st, f, s, refuse_live=True))
    assert [s.key for s in replan(D, S, facts, sections)] == [s.key for s in steps if s.live]


def test_changed_timeout_rewrites_and_reexecutes():
    facts, sections = debian()
    _, facts, sections = converge(D, S, facts, sections, effects)
    longer = WatchdogSettings(timeoutSeconds=90)
    steps = D.plan(longer, D.observe(sections), facts).steps
    assert summaries(steps) == [("~", f"update {SYSTEM} (RuntimeWatchdogSec=90s)"), REEXEC]
    assert "+RuntimeWatchdogSec=90s" in steps[0].detail
    _, facts, sections = converge(D, longer, facts, sections, lambda st, f, s: effects(st, f, s, settings=longer))
    assert replan(D, longer, facts, sections) == []


def test_systemd_timespans():
    assert [timespan(s) for s in (0, 30, 60, 90, 600, 3661)] == ["0", "30s", "1min", "1min 30s", "10min", "1h 1min 1s"]


def test_false_removes_only_axis_files_then_nothing():
    facts, sections = debian()
    _, facts, sections = converge(D, S, facts, sections, effects)
    steps, facts, sections = converge(D, False, facts, sections, lambda st, f, s: effects(st, f, s, settings=False))
    assert summaries(steps) == [("-", f"remove {MODULES} (softdog at boot)"),
                                ("-", f"remove {SYSTEM} (systemd watchdog)"), REEXEC]
    assert [s.action for s in steps[:2]] == [RemoveFile(MODULES), RemoveFile(SYSTEM)]
    assert replan(D, False, facts, sections) == []


def test_false_leaves_files_axis_did_not_write():
    facts, sections = debian()
    sections = with_files(D, False, sections, {MODULES: "softdog\n", SYSTEM: "[Manager]\nRuntimeWatchdogSec=10s\n"})
    assert D.plan(False, D.observe(sections), facts).steps == []


def test_steps_run_through_the_transport():
    facts, sections = debian()
    steps = D.plan(S, D.observe(sections), facts).steps
    t = (FakeTransport()
         .script(r"^modprobe", stderr="modprobe: FATAL: Module softdog not found in directory /lib/modules/6.1.0",
                 exit_status=1)
         .script(r"daemon-reexec", stderr="System has not been booted with systemd as init system (PID 1).",
                 exit_status=1))
    results = asyncio.run(run_steps(t, steps))
    assert [r.status for r in results] == ["done", "done", "refused", "refused"]
    assert t.files[SYSTEM][0].decode() == render_system(S) and "Module softdog not found" in results[2].message
