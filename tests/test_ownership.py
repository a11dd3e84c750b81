"""Several controllers sharing one state DB through ownership leases (`axis.state.ownership`,
`axis.reconcile.membership`): many members in one process on one real SQLite file, their clocks
injected, so expiry and takeover run with no real waiting. The shares stay within ±20% of the
mean as members join and die, a dead member's hosts move within 2× the lease, no host is ever
granted to two members at once, one leader at a time, and a clean stop hands over at once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlmodel import select

from axis.reconcile.membership import Membership
from axis.state import Database
from axis.state.controllers import members, state_of
from axis.state.ownership import Fenced, check_fence, holders, leader
from axis.state.tables import DesiredObject

LEASE = 15.0


@dataclass
class Clock:
    """Wall and monotonic time for every member at once; `advance` moves both."""

    now: float = 1_000_000.0

    def wall(self) -> float:
        return self.now

    def mono(self) -> float:
        return self.now - 999_000.0  # a different origin, as a real monotonic clock has

    def advance(self, seconds: float) -> None:
        self.now += seconds


def store_hosts(db: Database, names: list[str]) -> None:
    with db.write() as session:
        for name in names:
            session.add(DesiredObject(kind="Host", name=name, spec={"address": f"{name}.example"}, spec_hash="h",
                                      source_path="specs/h.yaml", source_line=1, apply_set="s", created_at=0.0,
                                      updated_at=0.0))


@pytest.fixture
def db(state_db: Path | str) -> Database:
    db = Database(state_db)
    store_hosts(db, [f"h{i:02}" for i in range(10)])
    return db


def member(db: Database, clock: Clock, name: str) -> Membership:
    return Membership(db, name, lease=LEASE, clock=clock.wall, monotonic=clock.mono)


def shares(db: Database, clock: Clock) -> dict[str, set[str]]:
    """Who holds which host in the DB now (unexpired rows only)."""
    with db.read() as session:
        held = holders(session, clock.now)
    out: dict[str, set[str]] = {}
    for host, row in held.items():
        out.setdefault(row.holder, set()).add(host)
    return out


def granted(alive: list[Membership], host: str) -> list[str]:
    """The members that would start a pass over `host` now (their local grant still in force)."""
    return [m.name for m in alive if m.token(host) is not None]


def rounds(clock: Clock, alive: list[Membership], n: int, *, check: list[Membership] | None = None) -> None:
    """`n` tick periods (lease/3) of `alive`, second by second; at every second no host is
    granted to two of `check` (default: `alive`), and at most one of them leads."""
    everyone = check or alive
    for _ in range(n):
        for _second in range(int(LEASE / 3)):
            for m in alive:
                m.tick_if_due(frozenset)  # no pass in flight
            for host in [f"h{i:02}" for i in range(10)]:
                assert len(granted(everyone, host)) <= 1, (host, granted(everyone, host), clock.now)
            assert sum(m.leader for m in everyone) <= 1
            clock.advance(1.0)


def assert_balanced(held: dict[str, set[str]], hosts: int, names: list[str]) -> None:
    assert sorted(held) == sorted(names)
    assert sum(len(h) for h in held.values()) == hosts  # every host held, none twice (one row each)
    mean = hosts / len(names)
    for name, hs in held.items():
        assert abs(len(hs) - mean) <= 0.2 * mean + 1e-9, (name, len(hs), mean)


def test_shares_stay_within_20_percent_as_members_join_and_die(db: Database):
    clock = Clock()
    a, b, c = (member(db, clock, n) for n in "abc")
    rounds(clock, [a, b, c], 3)
    assert_balanced(shares(db, clock), 10, ["a", "b", "c"])
    d = member(db, clock, "d")
    rounds(clock, [a, b, c, d], 3)
    assert_balanced(shares(db, clock), 10, ["a", "b", "c", "d"])
    # b dies (no more ticks, no stop): its grant runs out before its rows expire, then they move
    rounds(clock, [a, c, d], 6, check=[a, b, c, d])
    assert_balanced(shares(db, clock), 10, ["a", "c", "d"])


def test_a_dead_members_hosts_are_taken_within_two_leases_never_granted_twice(db: Database):
    clock = Clock()
    a, b = member(db, clock, "a"), member(db, clock, "b")
    rounds(clock, [a, b], 3)
    lost = shares(db, clock)["a"]
    assert lost
    died = clock.now
    while not lost <= shares(db, clock).get("b", set()):
        rounds(clock, [b], 1, check=[a, b])  # a's local grant and leadership end before b may take over
        assert clock.now - died <= 2 * LEASE
    assert clock.now - died >= LEASE - LEASE / 3  # not before a's rows could have expired
    assert b.leader
    assert {h: granted([a, b], h) for h in lost} == {h: ["b"] for h in lost}


def test_one_leader_at_a_time_and_a_successor_when_it_dies(db: Database):
    clock = Clock()
    ms = [member(db, clock, n) for n in "abc"]
    rounds(clock, ms, 2)
    leaders = [m for m in ms if m.leader]
    assert len(leaders) == 1
    with db.read() as session:
        assert leader(session, clock.now) == leaders[0].name
    survivors = [m for m in ms if m is not leaders[0]]
    rounds(clock, survivors, 7, check=ms)
    assert sum(m.leader for m in survivors) == 1 and not leaders[0].leader


def test_a_clean_stop_hands_over_at_once(db: Database):
    clock = Clock()
    a, b = member(db, clock, "a"), member(db, clock, "b")
    rounds(clock, [a, b], 3)
    assert shares(db, clock)["a"]
    a.leave()
    assert "a" not in shares(db, clock) and a.token("h00") is None and not a.leader
    b.tick()  # its next tick, not after a's lease
    assert shares(db, clock) == {"b": {f"h{i:02}" for i in range(10)}} and b.leader
    with db.read() as session:
        assert {m.name: state_of(m, clock.now) for m in members(session)} == {"a": "Stopped", "b": "Live"}


def test_a_paused_member_is_granted_nothing_after_its_deadline_and_its_old_token_is_fenced(db: Database):
    clock = Clock()
    a = member(db, clock, "a")
    a.tick()
    token = a.token("h00")
    assert token is not None and a.leader
    clock.advance(LEASE * 2 / 3)  # its local deadline: a third of the lease before the rows expire
    assert a.token("h00") is None and not a.leader
    with db.read() as session:  # still its own in the DB, unexpired: a record now would be accepted
        check_fence(session, "h00", "a", token, clock.now)
    clock.advance(LEASE / 3)
    b = member(db, clock, "b")
    b.tick()  # a's rows expired, a is no longer live: b takes everything with new tokens
    assert b.token("h00") == token + 1
    with db.read() as session, pytest.raises(Fenced, match="h00: ownership moved on: a held it with token"):
        check_fence(session, "h00", "a", token, clock.now)
    a.tick()  # back from its pause: its renewal changes nothing that b took
    assert a.share.hosts == {} and not a.leader
    assert shares(db, clock) == {"b": {f"h{i:02}" for i in range(10)}}


def test_a_host_with_a_pass_in_flight_is_not_given_back(db: Database):
    clock = Clock()
    a = member(db, clock, "a")
    a.tick()
    b = member(db, clock, "b")
    b.tick()
    clock.advance(LEASE / 3)
    a.tick(busy=frozenset(a.share.hosts))  # every host busy: a keeps them all, above its fair share
    assert len(a.share.hosts) == 10
    clock.advance(LEASE / 3)
    a.tick()
    b.tick()
    assert len(a.share.hosts) == 5 and len(b.share.hosts) == 5


def test_hosts_come_and_go_with_the_desired_state(db: Database):
    clock = Clock()
    a = member(db, clock, "a")
    a.tick()
    store_hosts(db, ["new"])
    with db.write() as session:
        session.delete(session.exec(select(DesiredObject).where(DesiredObject.name == "h00")).one())
    a.tick()
    assert "new" in a.share.hosts and "h00" not in a.share.hosts and len(a.share.hosts) == 10


def test_the_sole_controller_of_a_sqlite_db_takes_a_crashed_ones_hosts_at_once(db: Database):
    clock = Clock()
    crashed = member(db, clock, "crashed")
    crashed.tick()
    restarted = Membership(db, "restarted", lease=LEASE, sole=True, clock=clock.wall, monotonic=clock.mono)
    restarted.tick()
    assert len(restarted.share.hosts) == 10 and restarted.leader
    with db.read() as session:
        assert {m.name: state_of(m, clock.now) for m in members(session)} == {"crashed": "Stopped",
                                                                               "restarted": "Live"}


#: One member in its own process: it ticks every lease/3 (real clocks) for `seconds` and writes a
#: line per tick: wall time after it, and the hosts it holds with their tokens.


def test_a_sole_controllers_grant_outlives_a_slow_tick(db: Database):
    """The one controller of a SQLite file (its flock) keeps its grant between ticks however long
    one took: nobody else can take its hosts, so its passes must not halt; after `leave`, none."""
    clock = Clock()
    sole = Membership(db, "only", lease=LEASE, sole=True, clock=clock.wall, monotonic=clock.mono)
    sole.tick(frozenset())
    clock.advance(3 * LEASE)  # the next tick waited that long for the write lock
    assert sole.active and sole.leader and sole.token("h00") is not None
    sole.leave()
    assert not sole.active and sole.token("h00") is None
