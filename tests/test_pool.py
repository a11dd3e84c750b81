"""The controller's kept connections (`axis.drivers.pool`, issue 21 "Warm path"): what is reused,
what is dropped and reopened, and when nobody waits. No host is contacted: the fake connector
opens a fresh fake transport per connect and counts them. No timing is asserted here (figures:
bench/pass_cpu.py); the backoff runs on a fake clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from axis.app.context import AppContext
from axis.app.controller_start import make_controller, run_controller
from axis.drivers.pool import ConnectionPool
from axis.drivers.transport import ErrorKind, RunResult, TransportError
from axis.specs import Host
from tests.factskit import load
from tests.fake_transport import FakeTransport


def host(name: str = "a", **spec: Any) -> Host:
    return Host.model_validate({"apiVersion": "axis/v1", "kind": "Host", "metadata": {"name": name},
                                "spec": {"address": f"{name}.lan", **spec}})


@dataclass
class Kept(FakeTransport):
    """A fake connection that can be lost (`lost_because`) and hears when it goes idle."""

    lost_because: str | None = None
    idle: list[bool] = field(default_factory=list)
    fail_with: BaseException | None = None  # the next run raises this
    in_flight: int = 0
    most_in_flight: int = 0
    release: asyncio.Event | None = None  # runs wait for it when set

    def lost(self) -> str | None:
        return self.lost_because

    def keep_idle(self, idle: bool) -> None:
        self.idle.append(idle)

    async def run(self, command: str, **kwargs: Any) -> RunResult:
        self.calls.append(command)
        if self.fail_with is not None:
            error, self.fail_with = self.fail_with, None
            raise error
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.release is not None:
                await self.release.wait()
            return RunResult(0, "ok\n", "")
        finally:
            self.in_flight -= 1


@dataclass
class Opener:
    """A Connector that opens a new `Kept` per connect (`opened`); hosts in `refuse` are refused."""

    opened: list[Kept] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    tries: int = 0

    async def connect(self, host: Host) -> Kept:
        self.tries += 1
        if host.metadata.name in self.refuse:
            raise TransportError(ErrorKind.UNREACHABLE, host.metadata.name, "connection refused by host")
        self.opened.append(Kept(host.metadata.name))
        return self.opened[-1]


async def use(pool: ConnectionPool, target: Host, command: str = "true") -> RunResult:
    async with await pool.connect(target) as lease:
        return await lease.run(command)


async def settle() -> None:
    """Let the pool's background closes run."""
    for _ in range(5):
        await asyncio.sleep(0)


def test_a_host_s_connection_is_opened_once_and_reused_by_every_lease() -> None:
    async def go() -> tuple[Opener, ConnectionPool]:
        opener = Opener()
        pool = ConnectionPool(opener)
        for _ in range(3):
            await use(pool, host("a"))
        await asyncio.gather(*(use(pool, host("a")) for _ in range(4)))  # at once: still one connect
        return opener, pool

    opener, pool = asyncio.run(go())
    assert len(opener.opened) == 1 and not opener.opened[0].closed
    assert opener.opened[0].calls == ["true"] * 7
    assert (pool.counts["opened"], pool.counts["reused"]) == (1, 6)
    assert opener.opened[0].idle[:2] == [False, True]  # slow keepalives while idle, fast in use


def test_past_the_cap_the_least_recently_used_idle_connection_is_closed_never_a_leased_one() -> None:
    async def go() -> Opener:
        opener = Opener()
        pool = ConnectionPool(opener, max_open=2)
        await use(pool, host("a"))
        await use(pool, host("b"))
        await use(pool, host("a"))  # b is now the least recently used
        await use(pool, host("c"))
        await settle()
        assert [k.name for k in opener.opened if k.closed] == ["b"]
        async with await pool.connect(host("a")), await pool.connect(host("c")):
            async with await pool.connect(host("d")):  # all leased: over the cap for now
                await settle()
                assert pool.open_connections == 3 and not any(k.closed for k in opener.opened[2:])
            await settle()
            assert [k.name for k in opener.opened if k.closed] == ["b", "d"]  # the surplus, once returned
        await use(pool, host("a"))
        assert len(opener.opened) == 4  # a was kept throughout
        return opener

    asyncio.run(go())


def test_a_connection_unused_for_idle_close_seconds_is_closed_and_the_next_use_reopens() -> None:
    async def go() -> tuple[Opener, ConnectionPool]:
        opener = Opener()
        pool = ConnectionPool(opener, idle_close=0.01)
        await use(pool, host("a"))
        for _ in range(100):
            if opener.opened[0].closed:
                break
            await asyncio.sleep(0.01)
        await use(pool, host("a"))
        return opener, pool

    opener, pool = asyncio.run(go())
    assert [k.closed for k in opener.opened] == [True, False] and pool.counts["idle_closed"] == 1


@pytest.mark.parametrize("error", [TransportError(ErrorKind.UNREACHABLE, "a", "connection lost: reset by peer"),
                                   TransportError(ErrorKind.TIMEOUT, "a", "command still running after 60s; killed"),
                                   TransportError(ErrorKind.ERROR, "a", "the host refused a session channel"),
                                   asyncio.CancelledError()])
def test_a_connection_a_command_failed_on_is_dropped_with_the_reason_and_the_next_use_reconnects(
        error: BaseException, caplog: pytest.LogCaptureFixture) -> None:
    async def go() -> Opener:
        opener = Opener()
        pool = ConnectionPool(opener)
        await use(pool, host("a"))
        opener.opened[0].fail_with = error
        with pytest.raises(type(error)):
            await use(pool, host("a"))
        await settle()
        assert opener.opened[0].closed
        await use(pool, host("a"))
        assert pool.counts["dropped"] == 1
        return opener

    with caplog.at_level(logging.WARNING, logger="axis.drivers.pool"):
        opener = asyncio.run(go())
    assert len(opener.opened) == 2 and not opener.opened[1].closed
    why = str(error) if isinstance(error, TransportError) else "a command was cancelled mid-way"
    assert f"a: dropping its kept SSH connection: {why}; the next use reconnects" in caplog.messages


def test_a_command_s_own_failure_keeps_the_connection() -> None:
    async def go() -> Opener:
        opener = Opener()
        pool = ConnectionPool(opener)
        await use(pool, host("a"))
        failed = RunResult(1, "", "no such file")
        opener.opened[0].fail_with = TransportError(ErrorKind.COMMAND_FAILED, "a", "`cat x` exited 1", failed)
        with pytest.raises(TransportError):
            await use(pool, host("a"))
        opener.opened[0].fail_with = TransportError(ErrorKind.SUDO, "a", "`sudo -n` asked for a password")
        with pytest.raises(TransportError):
            await use(pool, host("a"))
        await use(pool, host("a"))
        return opener

    opener = asyncio.run(go())
    assert len(opener.opened) == 1 and not opener.opened[0].closed


def test_a_dropped_connection_still_leased_elsewhere_closes_when_that_lease_ends() -> None:
    async def go() -> Opener:
        opener = Opener()
        pool = ConnectionPool(opener)
        async with await pool.connect(host("a")) as watching:
            opener.opened[0].fail_with = TransportError(ErrorKind.UNREACHABLE, "a", "connection lost")
            with pytest.raises(TransportError):
                await use(pool, host("a"))
            await settle()
            assert not opener.opened[0].closed  # the other lease still holds it
            await use(pool, host("a"))  # a new connection, not the dropped one
            assert len(opener.opened) == 2
            del watching
        await settle()
        assert opener.opened[0].closed and not opener.opened[1].closed
        return opener

    asyncio.run(go())


def test_a_connection_the_host_closed_while_idle_is_replaced_and_the_reason_logged(
        caplog: pytest.LogCaptureFixture) -> None:
    async def go() -> Opener:
        opener = Opener()
        pool = ConnectionPool(opener)
        await use(pool, host("a"))
        opener.opened[0].lost_because = "connection lost: Connection reset by peer"
        await use(pool, host("a"))
        return opener

    with caplog.at_level(logging.INFO, logger="axis.drivers.pool"):
        opener = asyncio.run(go())
    assert len(opener.opened) == 2 and opener.opened[0].closed
    assert opener.opened[0].calls == ["true"] and opener.opened[1].calls == ["true"]
    assert ("a: its kept SSH connection was closed (connection lost: Connection reset by peer); reconnecting"
            in caplog.messages)


def test_failed_reconnects_back_off_doubling_and_report_the_reason_without_waiting(
        caplog: pytest.LogCaptureFixture) -> None:
    now = [100.0]

    async def go() -> tuple[Opener, list[str]]:
        opener = Opener(refuse={"a"})
        pool = ConnectionPool(opener, backoff_first=1.0, backoff_max=3.0, clock=lambda: now[0])
        said = []
        for step in (0.0, 0.5, 0.6, 1.0, 1.9, 0.2, 2.6, 0.3):  # seconds since the previous connect
            now[0] += step
            with pytest.raises(TransportError) as raised:
                await pool.connect(host("a"))
            assert raised.value.kind is ErrorKind.UNREACHABLE
            said.append(str(raised.value))
        opener.refuse.clear()
        now[0] += 3.5
        await use(pool, host("a"))
        return opener, said

    with caplog.at_level(logging.INFO, logger="axis.drivers.pool"):
        opener, said = asyncio.run(go())
    refused = "a: unreachable: connection refused by host"
    # tried at 0 (then 1 s off), 1.1 (2 s off), 4.0 (3 s: the cap), 7.1; the others raise at once
    assert said == [refused,
                    f"{refused} (not tried again for 0.5s after 1 failed connect(s) in a row)",
                    refused,
                    f"{refused} (not tried again for 1.0s after 2 failed connect(s) in a row)",
                    refused,
                    f"{refused} (not tried again for 2.8s after 3 failed connect(s) in a row)",
                    f"{refused} (not tried again for 0.2s after 3 failed connect(s) in a row)",
                    refused]
    assert opener.tries == 5 and len(opener.opened) == 1
    assert "a: connected again after 4 failed connect(s)" in caplog.messages


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
