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
