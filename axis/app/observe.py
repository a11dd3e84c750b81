"""Observing the fleet on request (`axis status` without `--cached`): every desired host's facts,
gathered now and stored, so the snapshot read next (`queries.cluster_status`) is fresh.

Its own module, apart from `operations`, so that `axis status` loads neither the ledger nor the
scorer that ranking and `exec` need."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractContextManager

from axis.app.context import AppContext
from axis.reconcile.observe import claim_tools, observe_fleet
from axis.state.facts import store_observations
from axis.state.objects import desired_claims, desired_hosts

#: Given the number of hosts about to be observed, a context whose value is called once per host done.
Progress = Callable[[int], AbstractContextManager[Callable[[], None]]]


def observe_hosts(app: AppContext, *, jobs: int, timeout: float, progress: Progress) -> None:
    """Observe every desired host (at most `jobs` at once, `timeout` seconds each, connect
    included) with the tools the claims ask about, then store every observation in one write.
    Nothing happens when no host is desired."""
    db = app.db()
    with db.read() as session:
        hosts, _ = desired_hosts(session)
        tools = claim_tools(desired_claims(session))
    if not hosts:
        return
    with progress(len(hosts)) as tick:
        observations = asyncio.run(observe_fleet(hosts, app.connector, jobs=jobs, timeout=timeout,
                                                 extra_tools=tools, on_done=lambda h, o: tick()))
    with db.write() as session:
        store_observations(session, observations)
