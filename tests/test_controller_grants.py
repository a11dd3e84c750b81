"""A running controller whose grants change under it (`Controller.run` with an injected clock,
one process, a fake connector): losing the leader role ends only the spec watcher, never the
controller, and the watcher runs again when the role comes back; a tick from any call site
keeps the hosts with a pass in flight; a pass whose grant lapses starts no further step."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlmodel import select

from axis.drivers.features.panic_recovery import PATH
from axis.reconcile.controller import Controller
from axis.reconcile.membership import Membership
from axis.specs import Host
from axis.state import Database
from axis.state.tables import DesiredObject
from tests.conftest import HOST
from tests.fake_transport import FakeTransport
from tests.test_controller_shares import NAMES, Passes, run_for
from tests.test_converge_stop import FACTS
from tests.test_ownership import LEASE, Clock


@pytest.fixture
def watch(specs) -> Path:
    return specs({f"{n}.yaml": HOST.format(name=n) for n in NAMES})


def stored_hosts(db: Database) -> set[str]:
    with db.read() as session:
        return {o.name for o in session.exec(select(DesiredObject).where(DesiredObject.kind == "Host")).all()}


async def until(condition, seconds: float = 10.0) -> bool:
    """Whether `condition()` came true within `seconds` (looked at every 50 ms)."""
    for _ in range(int(seconds / 0.05)):
        if condition():
            return True
        await asyncio.sleep(0.05)
    return condition()


def test_a_leader_that_loses_the_role_keeps_running_and_watches_again_when_it_leads(state_db, watch: Path):
    db = Database(state_db)
    clock = Clock()
    a = Membership(db, "a", lease=LEASE, clock=clock.wall, monotonic=clock.mono)
    controller = Controller(db, Passes("a", []), watch, resync=600, membership=a)
    controller.load_watched()

    async def scenario() -> None:
        stop = asyncio.Event()
        running = asyncio.create_task(controller.run(stop))
        assert await until(lambda: controller.watcher.running)
        clock.advance(LEASE + 1)  # a paused past its lease: b takes every host and the leader role
        b = Membership(db, "b", lease=LEASE, clock=clock.wall, monotonic=clock.mono)
        b.tick()
        assert b.leader
        assert await until(lambda: not controller.watcher.running)  # a's next tick: no longer the leader
        await asyncio.sleep(0.5)
        assert not running.done() and not stop.is_set()
        b.leave()
        clock.advance(LEASE / 3)  # a's next tick takes the role back
        assert await until(lambda: a.leader and controller.watcher.running)
        await asyncio.sleep(1.5)  # the file watch is watching (its first report is within a second)
        (watch / "new.yaml").write_text(HOST.format(name="new"))
        assert await until(lambda: "new" in stored_hosts(db))  # applied by the watcher, not a load
        assert not running.done()
        stop.set()
        await running

    asyncio.run(scenario())
    assert stored_hosts(db) == {*NAMES, "new"}


def test_a_tick_from_a_spec_load_keeps_the_hosts_with_a_pass_in_flight(state_db, watch: Path):
    """The review's scenario (H1): `a` holds every host, each with a pass in flight; `b` joins; a
    spec load (`load_watched`, as on every edit) ticks `a`: it must keep those hosts, so `b`
    never holds a host that `a` is passing."""
    db = Database(state_db)
    clock = Clock()
    a = Membership(db, "a", lease=LEASE, clock=clock.wall, monotonic=clock.mono)
    controller = Controller(db, Passes("a", []), watch, resync=600, membership=a)
    controller.load_watched()
    a.tick()
    assert set(a.share.hosts) == set(NAMES)

    async def scenario() -> None:
        never = asyncio.Event()
        for slot in controller._slots.values():
            slot.task = asyncio.create_task(never.wait())  # a pass in flight
        b = Membership(db, "b", lease=LEASE, clock=clock.wall, monotonic=clock.mono)
        b.tick()
        clock.advance(LEASE / 3)
        controller.load_watched()  # a's tick is due: it runs from here
        assert set(a.share.hosts) == set(NAMES)
        clock.advance(LEASE / 3)
        b.tick()
        assert b.share.hosts == {}
        for slot in controller._slots.values():
            assert slot.task is not None
            slot.task.cancel()

    asyncio.run(scenario())


class _LapseOnPut(FakeTransport):
    """A pass of two steps (a file write, then `sysctl -p`): while the write is in flight, the
    controller's grant lapses (`lapse()`) and the controller's loop gets time to see it."""

    lapse: Callable[[], None] = staticmethod(lambda: None)

    async def put(self, path: str, data: bytes, *, mode: int = 0o644, sudo: bool = False,
                  expect: str | None = None) -> None:
        self.lapse()
        await asyncio.sleep(1.5)  # the loop looks at least once a second
        await super().put(path, data, mode=mode, sudo=sudo, expect=expect)


@dataclass
class _Ssh:
    transport: FakeTransport

    async def connect(self, host: Host) -> FakeTransport:
        return self.transport


@pytest.mark.parametrize("how", ["another controller takes the host", "its tick fails"])
def test_a_pass_whose_grant_lapses_starts_no_further_step(state_db, specs, how):
    db = Database(state_db)
    clock = Clock()
    a = Membership(db, "a", lease=LEASE, clock=clock.wall, monotonic=clock.mono)
    fake = _LapseOnPut("h0").script(r"sysctl -p", exit_status=0).script(r"", stdout=FACTS)
    watch = specs({"h0.yaml": HOST.format(name="h0").replace("swapfile: {size: 32G}", "panicRecovery: {}")})
    controller = Controller(db, _Ssh(fake), watch, resync=600, membership=a)
    controller.load_watched()

    def lapse() -> None:
        clock.advance(LEASE)  # a paused past its lease
        if how == "another controller takes the host":
            Membership(db, "b", lease=LEASE, clock=clock.wall, monotonic=clock.mono).tick()
        else:
            def broken(busy: frozenset[str]) -> None:
                raise OSError("the DB is gone")
            a.tick = broken  # type: ignore[method-assign]

    fake.lapse = lapse
    asyncio.run(run_for([controller], 3.0))
    assert list(fake.files) == [PATH]  # the write in flight completed
    assert not any("sysctl -p" in c for c in fake.calls)  # the step after it never started
