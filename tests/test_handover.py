"""Which controller passes answer for an `axis apply` handed over to it (axis.reconcile.handover).

The conditions are written as a controller pass writes them (`probed`: when the pass read the
desired state); a real controller doing so is in tests/integration/test_crash_concurrency.py."""

from __future__ import annotations

from axis.reconcile.handover import changed_hosts, handed_results
from axis.reconcile.host_pass import plan_work
from axis.reconcile.record import settings_hashes
from axis.specs.loader import load_spec_text
from axis.state import Database
from axis.state.conditions import set_condition
from axis.state.facts import Observation, store_observations
from axis.state.feature_status import FeatureRow, store_feature_status
from axis.state.objects import Change, apply_objects, delete_object, desired_hosts
from tests.conftest import HOST


def _db(state_db) -> Database:
    db = Database(state_db)
    _store(db, "32G")
    return db


def _store(db: Database, size: str) -> None:
    with db.write() as session:
        apply_objects(session, load_spec_text(HOST.format(name="a").replace("32G", size)))


def _pass(db: Database, *, probed: float, reachable: bool = True, converged: bool = True, message: str = "") -> None:
    """The conditions and feature rows one controller pass on host `a` records, planned from
    the desired state stored now."""
    with db.write() as session:
        hosts, profiles = desired_hosts(session)
        work = plan_work(session, hosts, profiles, planned_at=probed)[0]
        if reachable:
            rows = [FeatureRow(name, "in-sync", "InSync", "", digest, {})
                    for name, digest in settings_hashes(work.features).items()]
            store_feature_status(session, "a", rows, generation=work.generation, now=probed + 5)
        set_condition(session, "Host", "a", "Reachable", reachable, "FactsComplete" if reachable else "Unreachable",
                      "" if reachable else message, generation=work.generation, now=probed + 5, probed=probed)
        set_condition(session, "Host", "a", "Converged", converged if reachable else None,
                      "InSync" if converged else "ApplyFailed", "" if converged else message,
                      generation=work.generation, now=probed + 5, probed=probed)
        ready = reachable and converged
        set_condition(session, "Host", "a", "Ready", ready, "Ready" if ready else "NotReady", "" if ready else message,
                      generation=work.generation, now=probed + 5, probed=probed)


def _results(db: Database, changed: set[str], since: float):  # type: ignore[no-untyped-def]
    with db.read() as session:
        return handed_results(session, ["a"], changed, since)


def test_only_a_pass_that_read_the_state_after_the_commit_answers_for_a_changed_host(state_db):
    db = _db(state_db)
    assert _results(db, {"a"}, since=100.0) == {}  # no pass at all yet
    _pass(db, probed=99.0)  # planned before the commit (it ends later: its `now` is 104)
    assert _results(db, {"a"}, since=100.0) == {}
    _pass(db, probed=101.0)
    result = _results(db, {"a"}, since=100.0)["a"]
    assert (result.ready, result.reason, result.message) == (True, "Ready", "")


def test_observations_written_by_axis_status_do_not_answer(state_db):
    db = _db(state_db)
    _pass(db, probed=50.0)
    with db.write() as session:
        store_observations(session, [Observation("a", "unreachable", "a: timed out", None, 150.0)])
    assert _results(db, {"a"}, since=100.0) == {}


def test_a_failed_pass_says_why_in_the_reachable_or_converged_reason(state_db):
    db = _db(state_db)
    _pass(db, probed=101.0, reachable=False, message="a: timed out")
    result = _results(db, {"a"}, since=100.0)["a"]
    assert (result.ready, result.reason, result.message) == (False, "Unreachable", "a: timed out")
    _pass(db, probed=102.0, converged=False, message="swapfile: No space left on device")
    result = _results(db, {"a"}, since=100.0)["a"]
    assert (result.ready, result.reason, result.message) == (False, "ApplyFailed", "swapfile: No space left on device")


def test_an_unchanged_host_answers_with_its_last_pass_if_it_planned_what_is_stored(state_db):
    db = _db(state_db)
    _pass(db, probed=50.0)
    assert _results(db, set(), since=100.0)["a"].ready is True
    # an earlier apply (--no-wait) stored 16G after that pass: this apply changes nothing, but
    # the pass it would read planned 32G, so the next pass answers
    _store(db, "16G")
    assert _results(db, set(), since=100.0) == {}
    _pass(db, probed=60.0, reachable=False, message="a: timed out")  # under the new generation
    result = _results(db, set(), since=100.0)["a"]
    assert (result.ready, result.reason) == (False, "Unreachable")
    _pass(db, probed=70.0)
    assert _results(db, set(), since=100.0)["a"].ready is True


def test_a_host_deleted_meanwhile_answers_deleted(state_db):
    db = _db(state_db)
    with db.write() as session:
        delete_object(session, "Host", "a")
    result = _results(db, {"a"}, since=100.0)["a"]
    assert (result.ready, result.reason) == (False, "Deleted")


def test_a_changed_profile_changes_every_handed_host():
    host = [Change("Host", "a", "configured", 2, "f.yaml"), Change("Host", "b", "unchanged", 1, "f.yaml")]
    assert changed_hosts(host, ["a", "b"]) == {"a"}
    profile = [*host, Change("HostProfile", "base", "configured", 3, "f.yaml")]
    assert changed_hosts(profile, ["a", "b"]) == {"a", "b"}
