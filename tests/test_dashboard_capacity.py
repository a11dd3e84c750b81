"""The dashboard's lease bars count a host's memory as placement does: a container's cgroup
limit, not the machine's RAM it also sees, is what its claims can be given."""

from __future__ import annotations

import time

from axis.app.context import AppContext
from axis.app.fleet_overview import fleet_overview, host_detail
from axis.placement.candidates import HEADROOM, candidate
from axis.state.facts import Observation, store_observations
from tests.dashboardkit import captured_facts, fill_fleet, host_facts
from tests.poolkit import host

LIMIT = 2 << 30


def test_a_containers_lease_bar_is_its_cgroup_limit_as_placement_counts_it(app: AppContext) -> None:
    import random

    now = time.time()
    fill_fleet(app.db(), ["ct-1", "vm-1", "gone-1"], now=now - 10, down=["gone-1"])
    facts = host_facts(captured_facts("debian12.txt"), "ct-1", 0, random.Random(1))
    facts["memory"] = {**facts["memory"], "cgroup_limit_bytes": LIMIT}
    assert facts["memory"]["total_bytes"] > 4 * LIMIT  # the machine's RAM, which the container sees
    with app.db().write() as session:
        store_observations(session, [Observation("ct-1", facts["status"], "", facts, now)])

    capacity = {c.host: c.allocatable_bytes for c in fleet_overview(app.db()).capacity}
    placed = candidate(host("ct-1"), facts["status"], "", facts)
    assert capacity["ct-1"] == placed.total - HEADROOM == LIMIT - HEADROOM
    assert host_detail(app.db(), "ct-1").capacity.allocatable_bytes == LIMIT - HEADROOM
    assert capacity["vm-1"] is not None and capacity["vm-1"] > LIMIT  # no limit: the machine's RAM
    assert capacity["gone-1"] is not None  # down now: the capacity it was last seen with
