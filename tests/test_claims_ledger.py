"""The lease ledger on a real SQLite file: the 2 × 17 GiB incident, TTL, renew, release, and
what happens to leases when claims or hosts leave the specs. Time moves only through `now`."""

from __future__ import annotations

from pathlib import Path

import pytest

from axis.placement import ledger
from axis.placement.ledger import LedgerError, place_claims, release, renew
from axis.state import Database, leases
from axis.state.claims import statuses
from axis.state.events import list_events
from axis.state.objects import delete_object
from tests.claimkit import GiB, T0, claim, facts, host, store

MIN = 60.0


@pytest.fixture
def db(state_db: Path | str) -> Database:
    return Database(state_db)


def _leases(db: Database) -> dict[str, str]:
    with db.read() as session:
        return {lease.claim: lease.host for lease in leases.all_leases(session)}


def _phases(db: Database) -> dict[str, tuple[str, str]]:
    with db.read() as session:
        return {name: (s.phase, s.reason) for name, s in statuses(session).items()}


def _reasons(db: Database, name: str) -> list[str]:
    with db.read() as session:
        return [e.reason for e in list_events(session, kind="Claim", name=name)]


JOB = {"requires": {"memory": "17Gi"}}


def test_two_17gib_claims_on_30gib_hosts_land_on_different_hosts(db):
    store(db, [host("ubu-1"), host("ubu-2"), claim("job-a", **JOB), claim("job-b", **JOB)],
          {"ubu-1": facts(total_gib=30), "ubu-2": facts(total_gib=30)})
    outcomes = place_claims(db, now=T0)
    assert {(o.claim, o.phase) for o in outcomes} == {("job-a", "Bound"), ("job-b", "Bound")}
    assert sorted(_leases(db).values()) == ["ubu-1", "ubu-2"]


def test_with_one_30gib_host_the_second_claim_stays_pending_with_the_reason(db):
    store(db, [host("ubu-1"), claim("job-a", **JOB), claim("job-b", **JOB)], {"ubu-1": facts(total_gib=30)})
    place_claims(db, now=T0)
    assert _leases(db) == {"job-a": "ubu-1"}
    phase, reason = _phases(db)["job-b"]
    assert phase == "Pending"
    assert reason == ("no host fits: ubu-1: not enough allocatable memory: needs 17.0Gi, 12.0Gi free of 29.0Gi "
                      "(total − 1Gi headroom, 17.0Gi leased)")
    place_claims(db, now=T0 + MIN)  # the same reason again: no second event
    assert _reasons(db, "job-b") == ["Created", "FailedPlacement"]


def test_hosts_never_observed_or_unreachable_leave_the_claim_pending(db):
    store(db, [host("new"), host("down"), claim("job", **JOB)], {"down": None})
    place_claims(db, now=T0)
    phase, reason = _phases(db)["job"]
    assert phase == "Pending"
    assert "down: last observation unreachable: down: unreachable: refused" in reason
    assert "new: never observed: no facts yet" in reason


def test_an_expired_lease_frees_capacity_in_the_next_pass_and_the_claim_becomes_expired(db):
    store(db, [host("ubu-1"), claim("job-a", ttl="45m", **JOB)], {"ubu-1": facts(total_gib=30)})
    place_claims(db, now=T0)
    store(db, [claim("job-b", **JOB)])
    place_claims(db, now=T0 + 44 * MIN)  # job-a still live: job-b waits
    assert _leases(db) == {"job-a": "ubu-1"} and _phases(db)["job-b"][0] == "Pending"
    place_claims(db, now=T0 + 45 * MIN)  # expired at exactly acquired + ttl
    assert _leases(db) == {"job-b": "ubu-1"}
    assert _phases(db)["job-a"][0] == "Expired"
    assert _reasons(db, "job-a") == ["Created", "Bound", "Expired"]
    place_claims(db, now=T0 + 200 * MIN)  # job-b expired too; nothing re-binds by itself
    assert _leases(db) == {} and _phases(db)["job-a"][0] == "Expired"


def test_an_expired_claim_is_placed_again_when_its_spec_changes(db):
    store(db, [host("ubu-1"), claim("job", **JOB)], {"ubu-1": facts()})
    place_claims(db, now=T0)
    place_claims(db, now=T0 + 60 * MIN)
    assert _leases(db) == {}
    store(db, [claim("job", requires={"memory": "16Gi"})], now=T0 + 61 * MIN)
    place_claims(db, now=T0 + 61 * MIN)
    assert _leases(db) == {"job": "ubu-1"} and _phases(db)["job"][0] == "Bound"


def test_renew_keeps_the_lease_alive(db):
    store(db, [host("ubu-1"), claim("job-a", ttl="45m", **JOB), claim("job-b", **JOB)], {"ubu-1": facts()})
    place_claims(db, now=T0)
    lease = renew(db, "job-a", now=T0 + 40 * MIN)
    assert lease.expires == T0 + 85 * MIN and lease.renewed == T0 + 40 * MIN and lease.acquired == T0
    place_claims(db, now=T0 + 80 * MIN)
    assert _leases(db) == {"job-a": "ubu-1"}
    assert renew(db, "job-a", now=T0 + 81 * MIN, ttl=600).expires == T0 + 81 * MIN + 600
    assert _reasons(db, "job-a") == ["Created", "Bound", "Renewed", "Renewed"]


def test_renew_places_an_unbound_claim_again_or_says_why_not(db):
    store(db, [host("ubu-1"), claim("job-a", **JOB), claim("job-b", **JOB)], {"ubu-1": facts()})
    place_claims(db, now=T0)
    with pytest.raises(LedgerError, match="claim 'job-b' is not bound: no host fits: ubu-1: not enough"):
        renew(db, "job-b", now=T0 + MIN)
    release(db, "job-a", now=T0 + 2 * MIN)
    assert renew(db, "job-b", now=T0 + 3 * MIN).host == "ubu-1"
    with pytest.raises(LedgerError, match="claim 'nope' not found"):
        renew(db, "nope", now=T0)


def test_release_frees_the_capacity_and_the_claim_stays_released(db):
    store(db, [host("ubu-1"), claim("job-a", **JOB), claim("job-b", **JOB)], {"ubu-1": facts()})
    place_claims(db, now=T0)
    release(db, "job-a", now=T0 + MIN)
    assert _phases(db)["job-a"][0] == "Released"
    place_claims(db, now=T0 + 2 * MIN)
    assert _leases(db) == {"job-b": "ubu-1"}
    assert _reasons(db, "job-a") == ["Created", "Bound", "Released"]
    with pytest.raises(LedgerError, match="holds no lease"):
        release(db, "job-a", now=T0 + 3 * MIN)


def test_deleting_a_claim_releases_its_lease_and_deleting_a_host_returns_claims_to_pending(db):
    store(db, [host("ubu-1"), host("ubu-2"), claim("job-a", **JOB), claim("job-b", **JOB)],
          {"ubu-1": facts(), "ubu-2": facts(available_gib=10)})
    place_claims(db, now=T0)
    assert _leases(db) == {"job-a": "ubu-1", "job-b": "ubu-2"}
    with db.write() as session:
        delete_object(session, "Claim", "job-a", now=T0 + MIN)
    assert _leases(db) == {"job-b": "ubu-2"}
    assert _reasons(db, "job-a") == ["Created", "Bound", "Released", "Deleted"]
    assert "job-a" not in _phases(db)
    with db.write() as session:
        delete_object(session, "Host", "ubu-2", now=T0 + 2 * MIN)
    assert _phases(db)["job-b"][0] == "Pending"
    place_claims(db, now=T0 + 3 * MIN)
    assert _leases(db) == {"job-b": "ubu-1"}


def test_a_pass_binds_claims_in_name_order_and_respects_each_hosts_cap(db):
    store(db, [host("big"), host("small")] + [claim(f"job-{i}", requires={"memory": "6Gi"}) for i in range(8)],
          {"big": facts(total_gib=31, available_gib=30), "small": facts(total_gib=13, available_gib=12)})
    place_claims(db, now=T0)
    held = _leases(db)
    assert sorted(held.values()).count("big") == 5 and sorted(held.values()).count("small") == 2
    assert _phases(db)["job-7"][0] == "Pending"


def test_a_bind_from_a_stale_snapshot_that_would_over_commit_the_host_is_refused(db, monkeypatch):
    """The cap check inside the bind transaction, in one process: this pass read the candidates
    before another binder's lease on ubu-1 (as a concurrent binder does), so its index still sees
    29Gi free. The bind must re-read the host's leases, refuse, and leave the claim Pending.
    Mutation caught: the `held + need > cap` check removed from `ledger.bind`."""
    store(db, [host("ubu-1"), claim("job-a", **JOB), claim("job-b", **JOB)], {"ubu-1": facts(total_gib=30)})
    with db.read() as session:
        stale = ledger.load_candidates(session, now=T0)
    assert [o.phase for o in place_claims(db, now=T0, names=["job-a"])] == ["Bound"]
    monkeypatch.setattr(ledger, "load_candidates", lambda session, now: stale)

    (outcome,) = place_claims(db, now=T0 + 1, names=["job-b"])

    assert (outcome.claim, outcome.phase) == ("job-b", "Pending")
    assert "ubu-1: not enough allocatable memory: needs 17.0Gi, 12.0Gi free" in outcome.reason
    assert _leases(db) == {"job-a": "ubu-1"}
    with db.read() as session:
        assert leases.held_on(session, "ubu-1", now=T0 + 1) == 17 * GiB  # never more than the cap (29Gi)
    assert _phases(db)["job-b"][0] == "Pending"


def _lease_memory(db: Database, name: str) -> int:
    with db.read() as session:
        return leases.find(session, name).memory_bytes


def test_a_bound_claim_whose_need_grows_but_still_fits_keeps_its_host_with_a_bigger_lease(db):
    store(db, [host("ubu-1"), host("ubu-2"), claim("job", requires={"memory": "8Gi"})],
          {"ubu-1": facts(total_gib=30), "ubu-2": facts(total_gib=62)})
    place_claims(db, now=T0)
    first = _leases(db)["job"]
    store(db, [claim("job", requires={"memory": "20Gi"})], now=T0 + MIN)
    outcomes = place_claims(db, now=T0 + MIN)
    assert [(o.claim, o.phase, o.host) for o in outcomes] == [("job", "Bound", first)]
    assert _leases(db) == {"job": first} and _lease_memory(db, "job") == 20 * (1 << 30)
    assert _reasons(db, "job")[-1] == "LeaseUpdated"
    assert place_claims(db, now=T0 + 2 * MIN) == []  # settled: nothing to do in the next pass


def test_a_bound_claim_that_no_longer_fits_its_host_stays_there_and_says_why(db):
    """A job may still run on the host (`axis exec` renews its lease): moving the claim by itself
    would leave that memory unaccounted. It stays, warns once, and is checked again every pass."""
    store(db, [host("small"), host("big"), claim("job", requires={"memory": "8Gi"})],
          {"small": facts(total_gib=30), "big": facts(total_gib=62, cores=4)})
    store(db, [claim("filler", requires={"memory": "40Gi"})], now=T0)
    place_claims(db, now=T0)
    assert _leases(db) == {"filler": "big", "job": "small"}
    store(db, [claim("job", requires={"memory": "40Gi"})], now=T0 + MIN)
    outcomes = place_claims(db, now=T0 + MIN)
    assert [(o.phase, o.host) for o in outcomes] == [("", "small")]
    why = outcomes[0].reason
    assert why.startswith("spec changed (generation 2) but not enough allocatable memory: needs 40.0Gi")
    assert why.endswith("the lease on small stays as bound; `axis release job` places it afresh")
    assert _leases(db) == {"filler": "big", "job": "small"} and _lease_memory(db, "job") == 8 * (1 << 30)
    assert _phases(db)["job"] == ("Bound", why)
    place_claims(db, now=T0 + 2 * MIN)  # checked again: same reason, no second warning
    assert _reasons(db, "job").count("SpecNotApplied") == 1
    store(db, [claim("job", requires={"memory": "16Gi"})], now=T0 + 3 * MIN)
    place_claims(db, now=T0 + 3 * MIN)  # fits again: resized in place, the warning cleared
    assert _lease_memory(db, "job") == 16 * (1 << 30) and _phases(db)["job"] == ("Bound", "")


def test_a_spec_change_that_needs_no_other_lease_changes_nothing_but_the_generation(db):
    store(db, [host("ubu-1"), claim("job", ttl="45m", requires={"memory": "8Gi"})], {"ubu-1": facts()})
    place_claims(db, now=T0)
    store(db, [claim("job", ttl="2h", requires={"memory": "8Gi"})], now=T0 + MIN)
    assert [(o.phase, o.host) for o in place_claims(db, now=T0 + MIN)] == [("Bound", "ubu-1")]
    assert "LeaseUpdated" not in _reasons(db, "job")
    with db.read() as session:
        assert statuses(session)["job"].observed_generation == 2


def test_a_changed_claim_on_an_unreachable_host_keeps_its_lease_until_the_host_can_be_checked(db):
    store(db, [host("ubu-1"), host("ubu-2"), claim("job", requires={"memory": "8Gi"})],
          {"ubu-1": facts(total_gib=30), "ubu-2": facts(total_gib=30)})
    place_claims(db, now=T0)
    bound = _leases(db)["job"]
    store(db, [claim("job", requires={"memory": "12Gi"})], {bound: None}, now=T0 + MIN)
    place_claims(db, now=T0 + MIN)  # its host is down: not moved, not resized
    assert _leases(db) == {"job": bound} and _lease_memory(db, "job") == 8 * (1 << 30)
    store(db, [], {bound: facts(total_gib=30)}, now=T0 + 2 * MIN)
    place_claims(db, now=T0 + 2 * MIN)  # back: checked, still fits, resized in place
    assert _leases(db) == {"job": bound} and _lease_memory(db, "job") == 12 * (1 << 30)
