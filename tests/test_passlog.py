"""The overlap check the failover test and the simulation rely on: it must flag two controllers in
a pass over one host at once, and only that."""

from __future__ import annotations

from tests.passlog import overlaps


def test_two_controllers_in_one_hosts_pass_at_once_are_flagged_and_nothing_else():
    assert overlaps([("h1", "a", 0.0, 2.0), ("h1", "b", 1.0, 3.0)]) == [
        "h1: controller b began at 1.000 while controller a ran until 2.000"]
    assert overlaps([("h1", "a", 0.0, 5.0), ("h1", "b", 6.0, 7.0), ("h1", "a", 4.0, 4.5)]) == []
    assert overlaps([("h1", "a", 0.0, 2.0), ("h1", "b", 2.0, 3.0), ("h2", "b", 1.0, 3.0)]) == []
    assert overlaps([("h1", "a", 0.0, 10.0), ("h1", "a", 1.0, 2.0), ("h1", "b", 3.0, 4.0)]) == [
        "h1: controller b began at 3.000 while controller a ran until 10.000"]
