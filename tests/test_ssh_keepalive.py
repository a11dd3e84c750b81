"""How a connection that SSH keepalives gave up on is reported (issue 16, item 9); the timing
itself is measured on real hosts in tests/integration/test_host_lost.py."""

from __future__ import annotations

import asyncssh

from axis.drivers.ssh import KEEPALIVE_INTERVAL, KEEPALIVE_MISSES, SILENCE_LIMIT, _classify
from axis.drivers.transport import ErrorKind


def test_keepalives_give_a_silent_host_up_with_8_seconds_of_margin_on_20():
    # asyncssh drops the connection on the tick after KEEPALIVE_MISSES unanswered keepalives
    assert SILENCE_LIMIT == KEEPALIVE_INTERVAL * (KEEPALIVE_MISSES + 1) <= 12
    # and a quiet command on a live host is safe: sshd answers a keepalive in one round trip,
    # which may take until the dropping tick (the first keepalive leaves after one interval)
    assert SILENCE_LIMIT - KEEPALIVE_INTERVAL >= 9


def test_keepalive_timeout_is_reported_in_plain_words():
    err = _classify("web-1", asyncssh.ConnectionLost("Server not responding to keepalive"))
    assert err.kind is ErrorKind.UNREACHABLE
    assert str(err) == ("web-1: unreachable: connection lost: no answer to keepalives for 12s "
                        "(host down or network gone)")


def test_other_lost_connections_keep_their_own_reason():
    err = _classify("web-1", asyncssh.ConnectionLost("Connection reset by peer"))
    assert err.kind is ErrorKind.UNREACHABLE and err.detail == "connection lost: Connection reset by peer"
