"""Observing the fleet on request (`axis status` without `--cached`): every desired host's facts,
gathered now and stored, so the snapshot read next (`queries.cluster_status`) is fresh.

Its own module, apart from `operations`, so that `axis status` loads neither the ledger nor the
scorer that ranking and `exec` need.

The connections open before the modules that only the end of the command needs are imported:
those load one at a time between the event loop's turns while the hosts' handshakes and facts
scripts run (host CPU, on another core), instead of before the first connection is opened."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable, Coroutine, Iterable
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from axis.app.context import AppContext
from axis.reconcile.observe import claim_tools, observe_fleet
from axis.specs import Claim, Host, Kind
from axis.state.stored_specs import valid

T = TypeVar("T")

#: What `axis status` needs once its hosts have answered: storing the observations (the state
#: DB's tables) and building the snapshot it shows. SQLAlchemy and SQLModel come first, each on
#: its own turn: the desired hosts are read without them (`AppContext.snapshot`), which leaves
#: ~0.3 s of imports to this list, and one long import would hold the loop all that time.
AFTER_OBSERVING = ("sqlalchemy", "sqlalchemy.orm", "sqlmodel", "axis.state.tables", "axis.state.db",
                   "axis.state.facts", "axis.app.queries")

#: Turns of the event loop the fan-out gets before the first import: enough for its tasks to be
#: created and each to reach its first network wait (the TCP connect).
_TURNS_TO_CONNECT = 4

#: Given the number of hosts about to be observed, a context whose value is called once per host done.
Progress = Callable[[int], AbstractContextManager[Callable[[], None]]]


def observe_hosts(app: AppContext, *, jobs: int, timeout: float, progress: Progress) -> None:
    """Observe every desired host (at most `jobs` at once, `timeout` seconds each, connect
    included) with the tools the claims ask about, then store every observation in one write.
    Nothing happens when no host is desired."""
    with app.snapshot() as snap:  # no SQLAlchemy yet: it loads while the hosts answer
        hosts = valid(snap.objects(Kind.HOST), Host)
        tools = claim_tools(valid(snap.objects(Kind.CLAIM), Claim))
    if not hosts:
        return
    with progress(len(hosts)) as tick:
        observations = asyncio.run(while_importing(
            observe_fleet(hosts, app.connector, jobs=jobs, timeout=timeout, extra_tools=tools,
                          on_done=lambda h, o: tick()), AFTER_OBSERVING))
    from axis.state.facts import store_observations  # loaded by now (AFTER_OBSERVING)

    with app.db().write() as session:
        store_observations(session, observations)


async def while_importing(work: Coroutine[Any, Any, T], modules: Iterable[str]) -> T:
    """`work`'s result, with `modules` imported meanwhile on the same loop, one per turn once
    `work` has started (its connections opened): an import blocks the loop while it runs, but
    between two of them the loop answers the hosts, whose side of a handshake runs elsewhere."""
    task = asyncio.ensure_future(work)
    for _ in range(_TURNS_TO_CONNECT):
        await asyncio.sleep(0)
    for name in modules:
        importlib.import_module(name)
        await asyncio.sleep(0)
    return await task
