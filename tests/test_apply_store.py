"""Which hosts an apply concerns (apply_pass.store): its Hosts, hosts its profiles match, and
hosts whose effective features it changed otherwise (a profile narrowed or pruned). No host is
contacted: `store` only plans."""

from __future__ import annotations

from axis.reconcile.apply_pass import store
from axis.specs.loader import load_spec_text
from axis.state import Database
from tests.conftest import HOST

PROFILE = """
apiVersion: axis/v1
kind: HostProfile
metadata: {{name: baseline}}
spec:
  selector: {{matchLabels: {{role: {role}}}}}
  features: {{panicRecovery: {{panicSeconds: 10}}}}
"""


def _store(db: Database, text: str, *, prune: bool = False, source: str = "specs"):  # type: ignore[no-untyped-def]
    return store(db, load_spec_text(text, source), apply_sets=[source], prune=prune)


def test_hosts_a_narrowed_profile_no_longer_matches_are_converged_too(state_db):
    db = Database(state_db)
    _store(db, HOST.format(name="a") + "---\n" + HOST.format(name="b"), source="hosts")
    first = _store(db, PROFILE.format(role="worker"), source="profiles")
    assert {w.host.metadata.name: sorted(w.features) for w in first.work} == {
        "a": ["panicRecovery", "swapfile"], "b": ["panicRecovery", "swapfile"]}
    assert {w.features["panicRecovery"].origin for w in first.work} == {"HostProfile/baseline"}
    # the selector now matches no host: a and b lose panicRecovery (only their own swapfile is
    # left), and both are still concerned
    narrowed = _store(db, PROFILE.format(role="gpu"), source="profiles")
    assert {w.host.metadata.name: sorted(w.features) for w in narrowed.work} == {"a": ["swapfile"], "b": ["swapfile"]}
    unchanged = _store(db, PROFILE.format(role="gpu"), source="profiles")
    assert unchanged.work == []


def test_hosts_of_a_pruned_profile_are_converged_too(state_db):
    db = Database(state_db)
    _store(db, HOST.format(name="a"), source="hosts")
    _store(db, PROFILE.format(role="worker"), source="profiles")
    other = "apiVersion: axis/v1\nkind: HostProfile\nmetadata: {name: other}\nspec:\n  selector: {matchLabels: {role: gpu}}\n"
    pruned = _store(db, other, prune=True, source="profiles")
    assert [c.action for c in pruned.changes if c.name == "baseline"] == ["pruned"]
    assert [w.host.metadata.name for w in pruned.work] == ["a"]
