"""How a connection that SSH keepalives gave up on is reported (issue 16, item 9); the timing
itself is measured on real hosts in tests/integration/test_host_lost.py."""

from __future__ import annotations

import asyncio

import asyncssh
import pytest

from axis.drivers import ssh as ssh_driver
from axis.drivers.ssh import KEEPALIVE_INTERVAL, KEEPALIVE_MISSES, SILENCE_LIMIT, _classify
from axis.drivers.transport import ErrorKind, Target, TransportError


def test_keepalives_give_a_silent_host_up_within_12_seconds_and_a_live_one_9_to_answer(tmp_path, monkeypatch):
    captured: dict[str, object] = {}

    async def fake_connect(host: str, port: object = (), **kwargs: object) -> None:
        captured.update(kwargs)
        raise ConnectionRefusedError()

    monkeypatch.setattr(asyncssh, "connect", fake_connect)
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "ssh_config").write_text("")
    with pytest.raises(TransportError):
        asyncio.run(ssh_driver.connect(Target(name="h1", address="h1.lan", port=22), ssh_config=tmp_path / "ssh_config"))
    interval, misses = captured["keepalive_interval"], captured["keepalive_count_max"]
    assert (interval, misses) == (KEEPALIVE_INTERVAL, KEEPALIVE_MISSES)
    # asyncssh drops the connection on the tick after `misses` unanswered keepalives
    assert SILENCE_LIMIT == interval * (misses + 1) == 12  # README: a silent host fails within 12 s
    # and a quiet command on a live host is safe: sshd answers a keepalive in one round trip,
    # which may take until the dropping tick (the first keepalive leaves after one interval)
    assert SILENCE_LIMIT - interval >= 9


def test_keepalive_timeout_is_reported_in_plain_words():
    err = _classify("web-1", asyncssh.ConnectionLost("Server not responding to keepalive"))
    assert err.kind is ErrorKind.UNREACHABLE
    assert str(err) == ("web-1: unreachable: connection lost: no answer to keepalives for 12s "
                        "(host down or network gone)")


def test_other_lost_connections_keep_their_own_reason():
    err = _classify("web-1", asyncssh.ConnectionLost("Connection reset by peer"))
    assert err.kind is ErrorKind.UNREACHABLE and err.detail == "connection lost: Connection reset by peer"


class _Conn:
    """The few asyncssh connection calls SSHTransport makes for a kept connection."""

    def __init__(self) -> None:
        self.closed = False
        self.keepalive: tuple[float, int] | None = None

    def get_extra_info(self, name: str) -> str:
        return "root"

    def is_closed(self) -> bool:
        return self.closed

    def set_keepalive(self, interval: float, count_max: int) -> None:
        self.keepalive = (interval, count_max)


def test_a_kept_connection_keeps_alive_slowly_while_idle_and_says_why_it_was_lost():
    conn = _Conn()
    client = ssh_driver._WatchedClient("web-1", [], ssh_driver.HostKeyPolicy.STRICT)
    transport = ssh_driver.SSHTransport(Target(name="web-1", address="web-1.lan"), conn, client)  # type: ignore[arg-type]
    transport.keep_idle(True)
    assert conn.keepalive == (ssh_driver.IDLE_KEEPALIVE_INTERVAL, KEEPALIVE_MISSES)
    transport.keep_idle(False)  # in use: a host lost mid-command is found within SILENCE_LIMIT again
    assert conn.keepalive == (KEEPALIVE_INTERVAL, KEEPALIVE_MISSES)
    assert transport.lost() is None
    client.connection_lost(asyncssh.ConnectionLost("Connection reset by peer"))
    conn.closed = True
    assert transport.lost() == "connection lost: Connection reset by peer"


class _ClosingConn(_Conn):
    """A connection that went away as a command's channel was being opened (asyncssh sets its
    close event before the opener resumes), in asyncssh's words or others a later one might use;
    `closed=False`: the channel failed on a connection still open."""

    def __init__(self, reason: str = "SSH connection closed", *, closed: bool = True) -> None:
        super().__init__()
        self.reason, self.closed = reason, closed

    async def create_process(self, *_args: object, **_kwargs: object) -> None:
        raise asyncssh.ChannelOpenError(asyncssh.OPEN_CONNECT_FAILED, self.reason)


@pytest.mark.parametrize("why", [None, asyncssh.ConnectionLost("Server not responding to keepalive")])
@pytest.mark.parametrize("conn", [_ClosingConn(), _ClosingConn("Connection gone")])
def test_a_connection_closed_under_a_starting_command_is_lost_not_a_refusal(why, conn):
    """A kept connection whose link was cut: the next command's channel fails to open because
    the connection closed. That is the host unreachable (with why, when asyncssh said), never
    "the host refused a session channel" (an Error condition the dashboard's test once saw)."""
    client = ssh_driver._WatchedClient("web-1", [], ssh_driver.HostKeyPolicy.STRICT)
    if why is not None:
        client.connection_lost(why)
    transport = ssh_driver.SSHTransport(Target(name="web-1", address="web-1.lan"), conn, client)  # type: ignore[arg-type]
    with pytest.raises(TransportError) as info:
        asyncio.run(transport.run("true"))
    assert info.value.kind is ErrorKind.UNREACHABLE
    assert info.value.detail == ("connection lost: it closed as a command started" if why is None else
                                 "connection lost: no answer to keepalives for 12s (host down or network gone)")


def test_a_channel_the_host_refuses_is_still_a_refusal():
    err = _classify("web-1", asyncssh.ChannelOpenError(asyncssh.OPEN_ADMINISTRATIVELY_PROHIBITED, "no sessions"))
    assert err.kind is ErrorKind.ERROR and err.detail == "the host refused a session channel: no sessions"
    transport = ssh_driver.SSHTransport(Target(name="web-1", address="web-1.lan"),  # type: ignore[arg-type]
                                        _ClosingConn("open failed", closed=False), None)
    with pytest.raises(TransportError) as info:  # OPEN_CONNECT_FAILED on a connection still open
        asyncio.run(transport.run("true"))
    assert info.value.kind is ErrorKind.ERROR and info.value.detail == "the host refused a session channel: open failed"
