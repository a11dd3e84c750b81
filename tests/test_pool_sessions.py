"""The controller's kept connections (`axis.drivers.pool`): a host whose spec changed, connects
asked at once and for the command line (their own session slots, never retiring the kept
connection), the session cap, closing, and the controller's passes sharing one pool. No host is
contacted (`tests.poolkit`); no timing is asserted.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from axis.app.context import AppContext
from axis.app.controller_start import make_controller, run_controller
from axis.drivers.pool import ConnectionPool
from axis.drivers.transport import TransportError
from axis.specs import Host
from tests.factskit import load
from tests.fake_transport import FakeTransport
from tests.poolkit import Kept, Opener, host, settle, use


def test_a_changed_address_user_port_or_sudo_opens_a_new_connection_never_the_old_one() -> None:
    async def go() -> Opener:
        opener = Opener()
        pool = ConnectionPool(opener)
        await use(pool, host("a"))
        for changed in ({"address": "a2.lan"}, {"address": "a2.lan", "user": "ops"},
                        {"address": "a2.lan", "user": "ops", "port": 2222},
                        {"address": "a2.lan", "user": "ops", "port": 2222, "sudo": True}):
            await use(pool, host("a", **changed))
            await use(pool, host("a", **changed))
        await settle()
        return opener

    opener = asyncio.run(go())
    assert len(opener.opened) == 5  # one per spec, each used twice
    assert [k.closed for k in opener.opened] == [True, True, True, True, False]
    assert [len(k.calls) for k in opener.opened] == [1, 2, 2, 2, 2]


def test_a_new_address_is_tried_at_once_whatever_the_old_one_s_backoff() -> None:
    async def go() -> Opener:
        opener = Opener(refuse={"a"})
        pool = ConnectionPool(opener, backoff_first=60.0)
        with pytest.raises(TransportError):
            await pool.connect(host("a"))
        opener.refuse.clear()
        with pytest.raises(TransportError, match="not tried again"):
            await pool.connect(host("a"))
        await use(pool, host("a", address="fixed.lan"))  # the spec fixed: no wait
        return opener

    assert asyncio.run(go()).tries == 2


def test_a_connect_asked_now_tries_a_host_in_its_backoff_and_the_socket_asks_so() -> None:
    """The command line through the controller's socket gets a real try, as directly: the same
    words for an unreachable host, and a host that came back is not reported as still failing."""
    from axis.app.controller_socket import TryingNow

    async def go() -> Opener:
        opener = Opener(refuse={"a"})
        pool = ConnectionPool(opener, backoff_first=60.0)
        with pytest.raises(TransportError) as first:
            await pool.connect(host("a"))
        with pytest.raises(TransportError) as again:
            await TryingNow(pool).connect(host("a"))
        assert str(again.value) == str(first.value)  # tried, not "not tried again for ..."
        opener.refuse.clear()
        with pytest.raises(TransportError, match="not tried again"):
            await pool.connect(host("a"))  # the controller's own passes still wait
        await use(TryingNow(pool), host("a"))
        return opener

    assert asyncio.run(go()).tries == 3


def test_commands_on_one_connection_run_at_most_max_sessions_at_once() -> None:
    async def go() -> Kept:
        opener = Opener()
        pool = ConnectionPool(opener, max_sessions=2)
        await use(pool, host("a"))
        kept = opener.opened[0]
        kept.release = asyncio.Event()
        runs = [asyncio.create_task(use(pool, host("a"))) for _ in range(5)]
        await settle()
        assert kept.in_flight == 2
        kept.release.set()
        await asyncio.gather(*runs)
        return kept

    kept = asyncio.run(go())
    assert kept.most_in_flight == 2 and len(kept.calls) == 6


def test_aclose_closes_every_connection_leased_or_not_and_refuses_later_connects() -> None:
    async def go() -> Opener:
        opener = Opener()
        pool = ConnectionPool(opener)
        await use(pool, host("a"))
        lease = await pool.connect(host("b"))
        await pool.aclose()
        assert all(k.closed for k in opener.opened) and pool.open_connections == 0
        await lease.close()  # a lease ending after the close changes nothing
        with pytest.raises(TransportError, match="the connection pool is closed"):
            await pool.connect(host("a"))
        return opener

    assert len(asyncio.run(go()).opened) == 2


# --- the controller's passes go through one pool ----------------------------------------------

HOST_SPEC = "apiVersion: axis/v1\nkind: Host\nmetadata: {name: a}\nspec: {address: a.lan}\n"


def test_the_controller_s_passes_share_one_connection_closed_when_it_stops(
        tmp_path: Path, state_db: Path | str) -> None:
    """make_controller wraps the app's connector in a pool: passes over a converged host after
    the first open no connection; stopping the loop (run_controller) closes it. On both backends (`state_db`)."""
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "a.yaml").write_text(HOST_SPEC)
    fake = FakeTransport("a").script(r"", stdout=load("debian12"))
    connects: list[str] = []

    class Connector:
        async def connect(self, target: Host) -> FakeTransport:
            connects.append(target.metadata.name)
            return fake

    async def run(loop: Any, passes: Callable[[], int]) -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(run_controller(app, loop, stop))
        for _ in range(1200):  # generous: a loaded machine; ends at the third pass
            if passes() >= 3 or task.done():
                break
            await asyncio.sleep(0.05)
        assert not fake.closed
        stop.set()
        assert await task == []

    app = AppContext(state=state_db, connector=Connector())
    with contextlib.ExitStack() as stack:
        loop = make_controller(app, tmp_path / "specs", "1s", 4, stack)
        assert isinstance(loop.connector, ConnectionPool) and loop.connector.inner is app.connector
        asyncio.run(run(loop, lambda: len(fake.calls)))
    app.db().close()
    assert len(fake.calls) >= 3 and connects == ["a"] and fake.closed


def test_relayed_calls_have_their_own_session_slots_and_never_starve_the_controller_s() -> None:
    """Long commands of the command line through the socket fill only their own budget: the
    controller's passes on that host still get their slots."""
    async def go() -> Kept:
        opener = Opener()
        pool = ConnectionPool(opener, max_sessions=2, max_relayed=1)
        await use(pool, host("a"))
        kept = opener.opened[0]
        kept.release = asyncio.Event()
        relayed = [asyncio.create_task(use(pool, host("a"), "relayed", relayed=True)) for _ in range(4)]
        await settle()
        own = [asyncio.create_task(use(pool, host("a"), "own")) for _ in range(2)]
        await settle()
        assert kept.calls.count("relayed") == 1 and kept.calls.count("own") == 2
        kept.release.set()
        await asyncio.gather(*relayed, *own)
        return kept

    kept = asyncio.run(go())
    assert kept.most_in_flight == 3 and kept.calls.count("relayed") == 4


def test_a_relayed_connect_for_another_spec_of_the_host_gets_its_own_unkept_connection() -> None:
    """The command line's spec of a host may differ from the controller's for a moment: its call
    goes over a connection of its own, closed after it, and the controller's kept one stays."""
    async def go() -> tuple[Opener, ConnectionPool]:
        opener = Opener()
        pool = ConnectionPool(opener)
        await use(pool, host("a"))
        await use(pool, host("a", address="elsewhere.lan"), relayed=True)
        await use(pool, host("a"))
        return opener, pool

    opener, pool = asyncio.run(go())
    assert len(opener.opened) == 2 and not opener.opened[0].closed and opener.opened[1].closed
    assert opener.opened[0].calls == ["true", "true"] and pool.counts["unkept"] == 1
    assert pool.counts["dropped"] == 0
