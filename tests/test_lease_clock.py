"""Leases on PostgreSQL are measured on the server's clock (`axis.state.controllers.lease_time`),
not on each controller machine's own: a member whose machine's clock is off by more than the lease
(ahead: it would see every lease expired; or the holder behind: its renewals would look expired
to the others) still cannot take a host another live member holds, nor the leader role."""

from __future__ import annotations

import time

import pytest

from axis.reconcile.membership import Membership
from axis.state import Database
from axis.state.controllers import lease_time
from axis.state.ownership import Fenced
from tests.test_ownership import LEASE, store_hosts

HOSTS = [f"h{i:02}" for i in range(4)]
SKEW = 2 * LEASE


@pytest.fixture
def db(pg_url: str) -> Database:
    db = Database(pg_url)
    store_hosts(db, HOSTS)
    return db


def tick_skewed(monkeypatch: pytest.MonkeyPatch, member: Membership, seconds: float) -> None:
    """`member` ticks on a machine whose wall clock is `seconds` off."""
    real = time.time
    with monkeypatch.context() as patch:
        patch.setattr(time, "time", lambda: real() + seconds)
        member.tick()
        with member.db.read() as session:
            assert abs(lease_time(session) - time.time() + seconds) < 1.0  # the server's clock, not this one


@pytest.mark.parametrize("who", ["the taker's clock runs ahead", "the holder's clock runs behind"])
def test_a_machine_whose_clock_is_off_by_more_than_the_lease_cannot_take_a_held_host(db, monkeypatch, who):
    ahead = who == "the taker's clock runs ahead"
    a, b = Membership(db, "a", lease=LEASE), Membership(db, "b", lease=LEASE)
    tick_skewed(monkeypatch, a, 0.0 if ahead else -SKEW)
    assert set(a.share.hosts) == set(HOSTS) and a.leader
    tick_skewed(monkeypatch, b, SKEW if ahead else 0.0)
    assert b.share.hosts == {} and not b.share.leader
    with db.write() as session:  # a's passes still record, b's would be refused
        a.fence("h00", a.share.hosts["h00"])(session)
        with pytest.raises(Fenced):
            b.fence("h00", a.share.hosts["h00"])(session)


def test_a_local_clock_off_by_more_than_the_lease_would_take_a_held_host(db):
    """What the server's clock prevents: a lease clock that is the taker's own, skewed (as it
    was before), takes every host and the leader role from a live holder."""
    a = Membership(db, "a", lease=LEASE)
    a.tick()
    b = Membership(db, "b", lease=LEASE, clock=lambda: time.time() + SKEW)
    b.tick()
    assert set(b.share.hosts) == set(HOSTS) and b.share.leader
