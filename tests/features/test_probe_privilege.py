"""Feature probes read with the steps' privilege, and an unreadable probe fails its feature alone.

Through `converge_host` with a scripted transport: the facts script a host is sent runs every
probe marked `as_root` in one root shell under `sudo -n` exactly when the steps would be
(non-root login, host with `sudo: true`), and never otherwise; a probe that could not read its file makes that
feature `failed` (nothing run for it, the host's words as the reason) while the other features
of the host are planned and applied as usual.
"""

from __future__ import annotations

import asyncio
import re
import shlex
from pathlib import Path

import pytest

from axis.drivers.facts.script import ROOT_GROUP
from axis.drivers.features import DRIVERS
from axis.drivers.features.panic_recovery import PATH as PANIC_FILE, render
from axis.drivers.features.swapfile import FSTAB
from axis.drivers.transport import privileged
from axis.reconcile.converge import converge_host
from axis.specs import Host
from axis.specs.effective import EffectiveFeature
from axis.specs.features import PanicRecoverySettings, SwapfileSettings
from tests.factskit import boundary_of, section, with_sections
from tests.fake_transport import FakeTransport

CAPTURE = (Path(__file__).parent.parent / "fixtures" / "features" / "debian12-container.txt").read_text()
B = boundary_of(CAPTURE)
FEATURES = {"swapfile": EffectiveFeature("swapfile", SwapfileSettings(size="64M", swappiness=20), "Host"),
            "panicRecovery": EffectiveFeature("panicRecovery", PanicRecoverySettings(), "Host")}
DENIED = f"od: {FSTAB}: Permission denied"


def _output(fstab_readable: bool, error: str = DENIED) -> str:
    """The real capture, panicRecovery's probes as a fresh host answers them, and /etc/fstab
    readable (as captured) or not: its probe failed with `error`."""
    text = CAPTURE
    if not fstab_readable:
        text = re.sub(rf"@@axis:{B}:section:swapfile\.fstab\n.*?@@axis:{B}:end:swapfile\.fstab rc=0\n",
                      lambda _: section(B, "swapfile.fstab", "", 1, [error]), text, count=1, flags=re.S)
        assert error in text
    return with_sections(text, [
        section(B, "panicRecovery.file", "", 3, [f"od: {PANIC_FILE}: No such file or directory"]),
        section(B, "panicRecovery.panic", "0"), section(B, "panicRecovery.oom", "0")])


class _Ssh:
    def __init__(self, transport: FakeTransport):
        self.transport = transport

    async def connect(self, host: Host) -> FakeTransport:
        return self.transport


def _host() -> Host:
    return Host.model_validate({"apiVersion": "axis/v1", "kind": "Host", "metadata": {"name": "h"},
                                "spec": {"address": "h"}})


def _pass(fake: FakeTransport, *, dry_run: bool):
    return asyncio.run(converge_host(_host(), FEATURES, _Ssh(fake), dry_run=dry_run))


@pytest.mark.parametrize("login_is_root,sudo_allowed,wrapped", [
    (False, True, True), (False, False, False), (True, True, False)])
def test_file_probes_run_with_the_steps_privilege(login_is_root, sudo_allowed, wrapped):
    fake = FakeTransport("h", login_is_root=login_is_root, sudo_allowed=sudo_allowed).script(r"", stdout=_output(True))
    _pass(fake, dry_run=True)
    script = fake.calls[0]
    root_shell = privileged("sh -s", login_is_root=False, sudo_allowed=True)
    as_root = script.split(f"\n{root_shell} <<", 1)[1] if wrapped else ""
    for name, feature in FEATURES.items():
        for section_name, probe in DRIVERS[name].probes(feature.settings).items():
            line = f"_axis_section {section_name} _axis_probe {shlex.quote(probe.command)}\n"
            assert line in script, section_name
            assert (line in as_root) is (wrapped and probe.as_root), section_name
    assert ("sudo -n sh -c" in script) is wrapped
    assert script.count("sudo -n sh -c") == (1 if wrapped else 0)  # one sudo for all the root probes


def test_an_unreadable_fstab_fails_swapfile_alone_in_a_dry_run():
    fake = FakeTransport("h", login_is_root=False, sudo_allowed=False).script(r"", stdout=_output(False))
    outcome = _pass(fake, dry_run=True)
    states = {f.feature: (f.state, f.message) for f in outcome.features}
    assert states["swapfile"] == ("failed", f"cannot read {FSTAB}: {DENIED} (exit 1)")
    assert states["panicRecovery"][0] == "pending"
    assert outcome.status == "failed" and outcome.reason == f"swapfile: cannot read {FSTAB}: {DENIED} (exit 1)"
    swap = next(f for f in outcome.features if f.feature == "swapfile")
    assert swap.plan.steps == [] and swap.plan.error


def test_an_unreadable_fstab_writes_nothing_of_swapfile_while_the_rest_converges():
    fake = (FakeTransport("h", login_is_root=False, sudo_allowed=False)
            .script(r"sysctl -p", exit_status=0).script(r"", stdout=_output(False)))
    outcome = _pass(fake, dry_run=False)
    assert list(fake.files) == [PANIC_FILE]  # no fstab, no swap marker, no sysctl file of swapfile
    assert not any("mkswap" in c or "swapon" in c for c in fake.calls)
    features = {f.feature: f for f in outcome.features}
    assert [r.status for r in features["panicRecovery"].results] == ["done", "done"]  # the file, sysctl -p
    assert features["swapfile"].state == "failed" and features["swapfile"].results == []
    assert features["swapfile"].message == f"cannot read {FSTAB}: {DENIED} (exit 1)"
    assert outcome.status == "failed" and f"swapfile: cannot read {FSTAB}" in outcome.reason


def test_sudo_asking_for_a_password_in_a_probe_fails_the_host_before_any_step():
    """sudo's refusal is the host's problem, not one feature's: said in plain words, nothing run."""
    refused = with_sections(CAPTURE, [section(B, ROOT_GROUP, "", 1, ["sudo: a password is required"])])
    fake = FakeTransport("h", login_is_root=False, sudo_allowed=True).script(r"", stdout=refused)
    outcome = _pass(fake, dry_run=False)
    assert outcome.status == "failed" and outcome.features == []
    assert outcome.reason.startswith("h: sudo needs a password: `sudo -n` asked for a password")
    assert fake.files == {} and len(fake.calls) == 1  # the script, and nothing after it


def test_the_same_words_from_a_probe_not_sent_through_sudo_are_only_that_features_failure():
    fake = FakeTransport("h", login_is_root=False, sudo_allowed=False).script(
        r"", stdout=_output(False, "sudo: a password is required"))
    outcome = _pass(fake, dry_run=True)
    assert [(f.feature, f.state) for f in outcome.features if f.state == "failed"] == [("swapfile", "failed")]


def _without_root_probes(text: str) -> str:
    """The output of a sudo host whose root shell printed none of the root probes."""
    for name, feature in FEATURES.items():
        for section_name, probe in DRIVERS[name].probes(feature.settings).items():
            if probe.as_root:
                text = re.sub(rf"@@axis:{B}:section:{re.escape(section_name)}\n.*?@@axis:{B}:end:"
                              rf"{re.escape(section_name)} rc=-?\d+\n", "", text, count=1, flags=re.S)
    return text


@pytest.mark.parametrize("rc", [127, 3])
def test_a_root_shell_that_failed_otherwise_leaves_its_probes_unreadable_never_absent(rc):
    """sudo missing (or any failure that is not sudo's refusal): the root probes never ran, so
    their features fail with the shell's own words and nothing is planned from them. An exit
    status of 3, a file probe's "absent", is not taken for one."""
    out = with_sections(_without_root_probes(_output(True)), [section(B, ROOT_GROUP, "", rc, ["sh: 1: sudo: not found"])])
    assert "swapfile.fstab" not in out
    fake = FakeTransport("h", login_is_root=False, sudo_allowed=True).script(r"", stdout=out)
    outcome = _pass(fake, dry_run=False)
    states = {f.feature: (f.state, f.message) for f in outcome.features}
    assert states == {name: ("failed", states[name][1]) for name in FEATURES}
    assert all("sudo: not found" in message for _, message in states.values())
    assert all(f.plan.steps == [] and f.plan.error for f in outcome.features)
    assert fake.files == {} and len(fake.calls) == 1  # nothing written on a failed read


def test_a_pass_with_nothing_to_do_is_one_round_trip_with_one_sudo():
    """A no-op pass over a sudo host: the facts script with every probe, one command, one sudo."""
    settings = FEATURES["panicRecovery"].settings
    in_sync = with_sections(CAPTURE, [
        section(B, "panicRecovery.file", " ".join(f"{b:02x}" for b in render(settings).encode()), 0),
        section(B, "panicRecovery.panic", str(settings.panic_seconds)), section(B, "panicRecovery.oom", "0")])
    fake = FakeTransport("h", login_is_root=False, sudo_allowed=True).script(r"", stdout=in_sync)
    outcome = asyncio.run(converge_host(_host(), {"panicRecovery": FEATURES["panicRecovery"]}, _Ssh(fake),
                                        dry_run=False))
    assert outcome.status == "unchanged", outcome.reason
    assert len(fake.calls) == 1 and fake.calls[0].count("sudo -n sh -c") == 1
