"""Controllers sharing one state DB, whole (`Controller.run`), in one process on one SQLite file
with a fake connector: each host is passed by one controller at a time and only by the one that
holds it, a stale holder's pass writes nothing, a controller whose grant ran out starts no pass,
only the leader stores the watched specs, and a stop hands the hosts over at once."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import select

from axis.drivers.transport import ErrorKind, Transport, TransportError
from axis.reconcile.controller import Controller
from axis.reconcile.membership import Membership
from axis.reconcile.owned_pass import converge_owned
from axis.specs import Host
from axis.state import Database
from axis.state.controllers import members, state_of
from axis.state.ownership import holders
from axis.state.tables import Condition, Event, FactsRecord, FeatureStatus
from tests.conftest import HOST
from tests.test_ownership import LEASE, Clock

NAMES = [f"h{i}" for i in range(6)]


@dataclass
class Passes:
    """A connector for one controller that logs each pass (controller, host, start, end): every
    host is unreachable after `seconds`, so a pass is quick and is recorded."""

    controller: str
    log: list[tuple[str, str, float, float]]
    seconds: float = 0.05
    gate: asyncio.Event | None = None  # when given, every connect waits for it
    connected: list[str] = field(default_factory=list)

    async def connect(self, host: Host) -> Transport:
        start = time.monotonic()
        self.connected.append(host.metadata.name)
        if self.gate is not None:
            await self.gate.wait()
        await asyncio.sleep(self.seconds)
        self.log.append((self.controller, host.metadata.name, start, time.monotonic()))
        raise TransportError(ErrorKind.UNREACHABLE, host.metadata.name, "connection refused by host")


@pytest.fixture
def watch(specs) -> Path:
    return specs({f"{n}.yaml": HOST.format(name=n) for n in NAMES})


async def run_for(controllers: list[Controller], seconds: float) -> None:
    stop = asyncio.Event()
    tasks = [asyncio.create_task(c.run(stop)) for c in controllers]
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.gather(*tasks)


def written(db: Database) -> tuple[int, ...]:
    """How many rows a pass writes into: facts, conditions, events, feature status."""
    with db.read() as session:
        return tuple(session.exec(select(func.count()).select_from(t)).one()
                     for t in (FactsRecord, Condition, Event, FeatureStatus))


def test_three_controllers_pass_each_host_one_at_a_time_and_only_the_leader_applies(state_db, watch):
    db = Database(state_db)
    log: list[tuple[str, str, float, float]] = []
    controllers = [Controller(db, Passes(n, log), watch, resync=600,
                              membership=Membership(db, n, lease=3.0)) for n in ("a", "b", "c")]
    for c in controllers:
        c.load_watched()
    assert [c.membership.leader for c in controllers] == [True, False, False]
    assert all(c._leading is c.membership.leader for c in controllers)
    asyncio.run(run_for(controllers, 2.5))
    assert {host for _c, host, _s, _e in log} == set(NAMES)
    for host in NAMES:
        spans = sorted((s, e, c) for c, h, s, e in log if h == host)
        for (_s1, e1, c1), (s2, _e2, c2) in zip(spans, spans[1:], strict=False):
            assert c1 == c2 or e1 <= s2, (host, spans)
    with db.read() as session:  # each stopped and gave its hosts back
        assert holders(session, time.time()) == {}
        assert {m.name: state_of(m, time.time()) for m in members(session)} == dict.fromkeys("abc", "Stopped")


def test_a_stale_holders_pass_writes_nothing(state_db, watch, caplog):
    db = Database(state_db)
    clock = Clock()
    a = Membership(db, "a", lease=LEASE, clock=clock.wall, monotonic=clock.mono)
    gate = asyncio.Event()
    controller = Controller(db, Passes("a", [], gate=gate), watch, resync=600, membership=a)
    controller.load_watched()
    a.tick()
    token = a.token("h0")
    assert token is not None
    before = written(db)

    async def paused_pass() -> bool:
        passing = asyncio.create_task(converge_owned(db, "h0", controller._slots["h0"], controller.connector,
                                                     source=controller.source, resync=600,
                                                     fence=a.fence("h0", token), stop=asyncio.Event()))
        await asyncio.sleep(0.05)  # a's pass is in flight; a is paused past its lease, b takes over
        clock.advance(LEASE + 1)
        Membership(db, "b", lease=LEASE, clock=clock.wall, monotonic=clock.mono).tick()
        gate.set()
        return await passing

    assert asyncio.run(paused_pass()) is False
    assert written(db) == before
    assert "h0: pass not recorded: h0: ownership moved on: a held it with token 1, now b (token 2)" in caplog.messages


@pytest.mark.parametrize("how", ["overtaken", "its tick fails"])
def test_a_controller_whose_grant_ran_out_starts_no_pass(state_db, watch, how):
    db = Database(state_db)
    clock = Clock()
    a = Membership(db, "a", lease=LEASE, clock=clock.wall, monotonic=clock.mono)
    connector = Passes("a", [])
    controller = Controller(db, connector, watch, resync=600, membership=a)
    controller.load_watched()
    a.tick()
    assert len(a.share.hosts) == len(NAMES)
    clock.advance(LEASE)  # paused until its rows expired
    if how == "overtaken":
        Membership(db, "b", lease=LEASE, clock=clock.wall, monotonic=clock.mono).tick()
    else:
        def broken(busy: frozenset[str]) -> None:
            raise OSError("the DB is gone")
        a.tick = broken  # type: ignore[method-assign]
    asyncio.run(run_for([controller], 0.5))
    assert connector.connected == []


def test_a_stop_gives_the_hosts_back_at_once(state_db, watch):
    db = Database(state_db)
    a = Membership(db, "a", lease=LEASE)
    controller = Controller(db, Passes("a", []), watch, resync=600, membership=a)
    controller.load_watched()
    asyncio.run(run_for([controller], 0.3))
    b = Membership(db, "b", lease=LEASE)
    b.tick()
    assert set(b.share.hosts) == set(NAMES) and b.leader


def test_a_host_granted_anew_is_passed_at_once_not_at_its_next_resync(state_db, watch):
    """A controller that held a host before (its slot due again only after a resync, or a backoff)
    and is granted it anew passes it at once: a killed or departed holder's hosts are reconciled
    when taken over."""
    db = Database(state_db)
    clock = Clock()
    a = Membership(db, "a", lease=LEASE, clock=clock.wall, monotonic=clock.mono)
    log: list[tuple[str, str, float, float]] = []
    controller = Controller(db, Passes("a", log), watch, resync=600, membership=a)
    controller.load_watched()

    async def scenario() -> int:
        stop = asyncio.Event()
        running = asyncio.create_task(controller.run(stop))
        await asyncio.sleep(0.5)  # a passed all six; each unreachable, so due again only after its 5 s backoff
        first = len(log)
        clock.advance(LEASE + 1)  # a paused past its lease: b takes every host, then leaves at once
        b = Membership(db, "b", lease=LEASE, clock=clock.wall, monotonic=clock.mono)
        b.tick()
        assert set(b.share.hosts) == set(NAMES)
        b.leave()
        await asyncio.sleep(1.5)  # a's next tick (every lease/3) grants them back, with new tokens
        stop.set()
        await running
        return first

    first = asyncio.run(scenario())
    assert {host for _c, host, _s, _e in log[:first]} == set(NAMES)
    assert {host for _c, host, _s, _e in log[first:]} == set(NAMES)


def test_a_controller_that_stops_while_another_runs_leaves_ready_to_it(state_db, watch):
    """They share Controller/controller: the first to stop says so in an event, the one still
    running keeps Ready; the last to stop writes Ready False Stopped."""
    db = Database(state_db)
    a, b = (Controller(db, Passes(n, []), watch, resync=600, membership=Membership(db, n, lease=3.0)) for n in "ab")
    for c in (a, b):
        c.load_watched()

    def health() -> tuple[tuple[str, str], list[str]]:
        with db.read() as session:
            ready = session.exec(select(Condition).where(Condition.kind == "Controller", Condition.type == "Ready")).one()
            stopped = session.exec(select(Event).where(Event.kind == "Controller", Event.reason == "Stopped")).all()
        return (ready.status, ready.reason), [e.message for e in stopped]

    async def scenario() -> None:
        stop_a, stop_b = asyncio.Event(), asyncio.Event()
        running = [asyncio.create_task(a.run(stop_a)), asyncio.create_task(b.run(stop_b))]
        await asyncio.sleep(0.5)
        stop_a.set()
        await running[0]
        assert health() == (("True", "Running"), ["controller a: stopped; 1 other controller(s) run on"])
        stop_b.set()
        await running[1]
        assert health()[0] == ("False", "Stopped")

    asyncio.run(scenario())
