"""Shutdown mid-pass: the step in flight finishes, no further step starts, the outcome says so."""

from __future__ import annotations

import asyncio
from pathlib import Path

from axis.drivers.features.panic_recovery import PATH
from axis.reconcile.converge import converge_host
from axis.specs import Host
from axis.specs.effective import EffectiveFeature
from axis.specs.features import PanicRecoverySettings
from tests.factskit import boundary_of, section, with_sections
from tests.fake_transport import FakeTransport

_CAPTURE = (Path(__file__).parent / "fixtures" / "facts" / "debian12.txt").read_text()
#: The capture plus panicRecovery's probes as a fresh host answers them (no file: exit 3).
FACTS = with_sections(_CAPTURE, [
    section(boundary_of(_CAPTURE), "panicRecovery.file", "", 3, [f"od: {PATH}: No such file or directory"]),
    section(boundary_of(_CAPTURE), "panicRecovery.panic", "0"),
    section(boundary_of(_CAPTURE), "panicRecovery.oom", "0")])


class _Ssh:
    def __init__(self, transport: FakeTransport):
        self.transport = transport

    async def connect(self, host: Host) -> FakeTransport:
        return self.transport


class _StopOnPut(FakeTransport):
    """Sets `stop` while the first step (the file write) is in flight, like a SIGTERM would."""

    stop: asyncio.Event | None = None

    async def put(self, path: str, data: bytes, *, mode: int = 0o644, sudo: bool = False,
                  expect: str | None = None) -> None:
        assert self.stop is not None
        self.stop.set()
        await super().put(path, data, mode=mode, sudo=sudo, expect=expect)


def test_stop_lets_the_step_in_flight_finish_and_starts_no_other():
    host = Host.model_validate({"apiVersion": "axis/v1", "kind": "Host", "metadata": {"name": "h"},
                                "spec": {"address": "h"}})
    features = {"panicRecovery": EffectiveFeature("panicRecovery", PanicRecoverySettings(), "Host")}
    fake = _StopOnPut("h").script(r"sysctl -p", exit_status=0).script(r"", stdout=FACTS)

    async def go():
        fake.stop = asyncio.Event()
        return await converge_host(host, features, _Ssh(fake), dry_run=False, stop=fake.stop)

    outcome = asyncio.run(go())
    assert list(fake.files) == [PATH]                          # the write in flight completed
    assert not any("sysctl -p" in c for c in fake.calls)       # the live step after it never started
    assert outcome.status == "failed" and "interrupted by shutdown (or a lapsed hold on the host) after 1 step(s)" in outcome.reason
    assert fake.closed
