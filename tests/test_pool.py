"""The controller's kept connections (`axis.drivers.pool`, issue 21 "Warm path"): what is reused,
what is dropped and reopened, and when nobody waits. No host is contacted: the fake connector
opens a fresh fake transport per connect and counts them (`tests.poolkit`). No timing is asserted
here (figures: bench/pass_cpu.py); the backoff runs on a fake clock.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from axis.drivers.pool import ConnectionPool
from axis.drivers.transport import ErrorKind, RunResult, TransportError
from tests.poolkit import Opener, host, settle, use


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
