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
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from axis.app.context import AppContext
from axis.reconcile.observe import claim_tools, observe_fleet
from axis.specs import Claim, Host, Kind
from axis.state.stored_specs import valid

if TYPE_CHECKING:
    from sqlmodel import Session

    from axis.drivers.connector import Connector
    from axis.state.snapshot import Snapshot

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
#: Runs one blocking DB step and returns its result: in place, or in a worker thread.
Blocking = Callable[[Callable[[], Any]], Awaitable[Any]]


def observe_hosts(app: AppContext, *, jobs: int, timeout: float, progress: Progress) -> None:
    """Observe every desired host (at most `jobs` at once, `timeout` seconds each, connect
    included) with the tools the claims ask about, then store every observation in one write.
    Nothing happens when no host is desired. The state DB (SQLAlchemy) opens after the hosts
    have answered: the desired hosts are read through the DB-API snapshot."""
    asyncio.run(observe_and_store(app.snapshot, lambda: app.db().write(), app.connector, jobs=jobs,
                                  timeout=timeout, progress=progress, importing=AFTER_OBSERVING))


async def observe_and_store(snapshot: Callable[[], AbstractContextManager[Snapshot]],
                            write: Callable[[], AbstractContextManager[Session]], connector: Connector, *,
                            jobs: int, timeout: float, progress: Progress | None = None,
                            importing: Iterable[str] = (), blocking: Blocking | None = None) -> None:
    """The one way `axis status` observes, directly (`observe_hosts`) or in the controller for the
    command line (`axis.app.controller_socket`): the desired hosts and the claims' tools read in
    one `snapshot`, every host observed through `connector` (`importing` loaded meanwhile), every
    observation stored in one `write`. The DB steps run through `blocking` (the controller: a
    worker thread, off its loop); by default here."""
    step = blocking or _here

    def targets() -> tuple[list[Host], list[str]]:
        with snapshot() as snap:
            return valid(snap.objects(Kind.HOST), Host), claim_tools(valid(snap.objects(Kind.CLAIM), Claim))

    hosts, tools = await step(targets)
    if not hosts:
        return
    with (progress or _no_progress)(len(hosts)) as tick:
        observations = await while_importing(
            observe_fleet(hosts, connector, jobs=jobs, timeout=timeout, extra_tools=tools,
                          on_done=lambda h, o: tick()), importing)
    from axis.state.facts import store_observations  # loaded by now where `importing` has it

    def store() -> None:
        with write() as session:
            store_observations(session, observations)

    await step(store)


async def _here(work: Callable[[], T]) -> T:
    return work()


@contextmanager
def _no_progress(count: int) -> Iterator[Callable[[], None]]:
    yield lambda: None


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
