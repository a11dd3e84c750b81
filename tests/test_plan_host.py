"""plan_host and the panicRecovery driver on real probe output: from scratch, converged,
refused earlier, removal, and not applicable on macOS."""

from __future__ import annotations

from pathlib import Path

from axis.drivers.features.base import WriteFile
from axis.drivers.features.panic_recovery import PATH, render
from axis.reconcile.plan import feature_probes, plan_host
from axis.specs.effective import EffectiveFeature
from axis.specs.features import PanicRecoverySettings
from tests.factskit import boundary_of, parse, section, split, with_sections
from tests.features.hostsim import hexdump

FACTS = Path(__file__).parent / "fixtures" / "facts"


def _output(facts_fixture: str, probes: dict[str, tuple[str, int]]) -> str:
    """A real facts capture plus the feature sections as the script frames them (exit 3: the
    file probe's "no such file")."""
    text = (FACTS / facts_fixture).read_text()
    missing = [f"od: {PATH}: No such file or directory"]
    return with_sections(text, [section(boundary_of(text), name, body, rc, missing if rc else [])
                                for name, (body, rc) in probes.items()])


def _plan(settings, file_body: str | None, panic: str = "0", oom: str = "0", fixture: str = "debian12.txt",
          refused=None):
    features = {"panicRecovery": EffectiveFeature("panicRecovery", settings, "Host")}
    out = _output(fixture, {
        "panicRecovery.file": ("\n".join(hexdump(file_body.encode())), 0) if file_body is not None else ("", 3),
        "panicRecovery.panic": (f"{panic}\n", 0),
        "panicRecovery.oom": (f"{oom}\n", 0),
    })
    return plan_host(features, split(out).sections, parse(out), refused)[0]


def test_probes_are_named_per_feature():
    probes = feature_probes({"panicRecovery": EffectiveFeature("panicRecovery", PanicRecoverySettings(), "Host")})
    assert set(probes) == {"panicRecovery.file", "panicRecovery.panic", "panicRecovery.oom"}


def test_from_scratch_writes_the_file_then_loads_it():
    plan = _plan(PanicRecoverySettings(panicSeconds=10), None)
    assert [(s.op, s.summary) for s in plan.steps] == [
        ("+", f"create {PATH} (kernel.panic = 10)"),
        ("~", f"load {PATH} into the running kernel")]
    write = plan.steps[0].action
    assert isinstance(write, WriteFile) and write.content.splitlines()[1:] == [b"kernel.panic = 10", b"vm.panic_on_oom = 0"]
    assert plan.steps[1].live and not plan.steps[0].live


def test_converged_host_plans_nothing():
    settings = PanicRecoverySettings(panicSeconds=10)
    assert _plan(settings, render(settings), panic="10").steps == []


def test_file_in_place_but_kernel_differs_plans_only_the_live_step():
    settings = PanicRecoverySettings(panicSeconds=10)
    plan = _plan(settings, render(settings), panic="0")
    assert [s.summary for s in plan.steps] == [f"load {PATH} into the running kernel"]


def test_a_step_refused_earlier_is_skipped_not_retried():
    settings = PanicRecoverySettings(panicSeconds=10)
    key = f"~ load {PATH} into the running kernel"
    plan = _plan(settings, render(settings), refused={"panicRecovery": {key: "permission denied on key"}})
    assert plan.steps == [] and not plan.changes
    assert [(s.key, why) for s, why in plan.skipped] == [(key, "permission denied on key")]


def test_changed_setting_shows_a_diff():
    plan = _plan(PanicRecoverySettings(panicSeconds=30), render(PanicRecoverySettings(panicSeconds=10)), panic="10")
    assert plan.steps[0].op == "~"
    assert "-kernel.panic = 10" in plan.steps[0].detail and "+kernel.panic = 30" in plan.steps[0].detail


def test_false_removes_only_a_file_axis_wrote():
    settings = PanicRecoverySettings()
    assert [s.op for s in _plan(False, render(settings)).steps] == ["-"]
    assert _plan(False, "kernel.panic = 5\n").steps == []  # somebody else's file: left alone
    assert _plan(False, None).steps == []


def test_not_applicable_on_macos():
    plan = _plan(PanicRecoverySettings(), None, fixture="macos-14-arm.txt")
    assert not plan.applicable and plan.notes == ["not applicable on macos"] and plan.steps == []
