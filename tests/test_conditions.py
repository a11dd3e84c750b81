"""Conditions: lastTransitionTime moves only when the status flips; reason/message follow each pass."""

from __future__ import annotations

from axis.state import Database
from axis.state.conditions import conditions_of, drop_conditions, set_condition


def test_transition_time_moves_only_on_a_flip(state_db):
    db = Database(state_db)
    with db.write() as s:
        assert set_condition(s, "Host", "a", "Reachable", True, "FactsComplete", generation=1, now=100.0)
    with db.write() as s:
        assert not set_condition(s, "Host", "a", "Reachable", True, "FactsPartial", "no gpu", generation=2, now=200.0)
    with db.read() as s:
        (c,) = conditions_of(s, "Host", "a")
        assert (c.status, c.reason, c.message, c.last_transition, c.observed_generation) == \
            ("True", "FactsPartial", "no gpu", 100.0, 2)
    with db.write() as s:
        assert set_condition(s, "Host", "a", "Reachable", False, "Unreachable", generation=2, now=300.0)
        assert set_condition(s, "Host", "a", "Converged", None, "HostNotObserved", generation=2, now=300.0)
    with db.read() as s:
        got = {c.type: (c.status, c.last_transition) for c in conditions_of(s, "Host", "a")}
        assert got == {"Reachable": ("False", 300.0), "Converged": ("Unknown", 300.0)}
    with db.write() as s:
        drop_conditions(s, "Host", "a")
    with db.read() as s:
        assert conditions_of(s, "Host") == []
