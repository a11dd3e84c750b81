"""Which controller passes answer for an `axis apply` handed over to it (axis.reconciler.handover).

The rows are written as a controller pass writes them (facts, feature status, conditions in one
transaction); a real controller doing so is in tests/integration/test_crash_concurrency.py."""

from __future__ import annotations

from axis.reconciler.fleet_pass import plan_work
from axis.reconciler.handover import changed_hosts, handed_results
from axis.reconciler.record import settings_hashes
from axis.specs.loader import load_spec_text
from axis.state import Database
from axis.state.conditions import set_condition
from axis.state.facts import Observation, store_observations
from axis.state.feature_status import FeatureRow, store_feature_status
from axis.state.objects import Change, apply_objects, desired_hosts
from tests.conftest import HOST


def _db(tmp_path, size: str = "32G") -> Database:
    db = Database(tmp_path / "state.db")
    _store(db, size)
    return db


def _store(db: Database, size: str) -> None:
    with db.write() as session:
        apply_objects(session, load_spec_text(HOST.format(name="a").replace("32G", size)))


def _pass(db: Database, *, at: float, status: str = "complete", ready: bool = True, reason: str = "") -> None:
    """What one controller pass on host `a` records, planned from the spec stored now."""
    with db.write() as session:
        hosts, profiles = desired_hosts(session)
        work = plan_work(session, hosts, profiles)[0]
        store_observations(session, [Observation("a", status, reason, None, at)])
        if status == "complete":
            rows = [FeatureRow(name, "in-sync", "InSync", "", digest, {})
                    for name, digest in settings_hashes(work.features).items()]
            store_feature_status(session, "a", rows, generation=work.generation, now=at)
        set_condition(session, "Host", "a", "Ready", ready and status == "complete", "Ready" if ready else "NotReady",
                      reason, generation=work.generation, now=at)


def _results(db: Database, changed: set[str], since: float):  # type: ignore[no-untyped-def]
    with db.read() as session:
        return handed_results(session, ["a"], changed, since)


def test_no_pass_yet_and_a_pass_from_before_the_apply_do_not_answer(tmp_path):
    db = _db(tmp_path)
    assert _results(db, {"a"}, since=100.0) == {}
    _pass(db, at=90.0)  # observed before the apply committed
    assert _results(db, {"a"}, since=100.0) == {}
    _pass(db, at=101.0)
    result = _results(db, {"a"}, since=100.0)["a"]
    assert (result.ready, result.reason) == (True, "Ready")


def test_a_pass_planned_from_the_old_spec_does_not_answer(tmp_path):
    db = _db(tmp_path, "32G")
    _pass(db, at=101.0)  # planned with 32G ...
    _store(db, "16G")  # ... while the apply stored 16G: the next pass answers
    assert _results(db, {"a"}, since=100.0) == {}
    _pass(db, at=102.0, ready=False, reason="swapfile: still differs")
    result = _results(db, {"a"}, since=100.0)["a"]
    assert (result.ready, result.reason, result.message) == (False, "NotReady", "swapfile: still differs")


def test_an_unreachable_host_answers_whatever_the_spec(tmp_path):
    db = _db(tmp_path)
    _pass(db, at=101.0, status="unreachable", reason="a: timed out")
    result = _results(db, {"a"}, since=100.0)["a"]
    assert (result.ready, result.reason, result.message) == (False, "unreachable", "a: timed out")


def test_an_unchanged_host_answers_with_its_last_pass(tmp_path):
    db = _db(tmp_path)
    _pass(db, at=50.0)
    assert _results(db, set(), since=100.0)["a"].ready is True


def test_a_changed_profile_changes_every_handed_host():
    host = [Change("Host", "a", "configured", 2, "f.yaml"), Change("Host", "b", "unchanged", 1, "f.yaml")]
    assert changed_hosts(host, ["a", "b"]) == {"a"}
    profile = [*host, Change("HostProfile", "base", "configured", 3, "f.yaml")]
    assert changed_hosts(profile, ["a", "b"]) == {"a", "b"}
