"""A controller's pass over one host it owns, and what the queue does after it: when the host is
due again (the pass's `Result`), a host gone from the git source, and a pass refused at its record
because the host's ownership moved on while it ran (`Fenced`: nothing was written, the new
holder reconciles the host; this controller leaves it until a tick grants it back)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable

from sqlmodel import Session

from axis.drivers.connector import Connector
from axis.reconcile.git_follow import GitFollower
from axis.reconcile.host_pass import reconcile_stored_host
from axis.reconcile.host_slot import Slot
from axis.reconcile.record import record_pass_crashed
from axis.reconcile.source_status import NoSource
from axis.state import Database
from axis.state.ownership import Fenced

#: The controller's own log: its lines keep the logger name they always had (`--log-format json`'s `logger`).
logger = logging.getLogger("axis.reconcile.controller")


async def converge_owned(db: Database, name: str, slot: Slot, connector: Connector, *, source: GitFollower | NoSource,
                         resync: float, fence: Callable[[Session], None], stop: asyncio.Event) -> bool:
    """One pass over `name`, then when it is due again; a git source hears of a host no longer
    stored (what each pass planned and how it ended is stored with the pass, `reconcile_stored_host`,
    and counted by the leader's follower). False when the pass was fenced.

    With --debug, one line per pass says when it began and ended on this machine's clock: what
    shows that two controllers never had a host in hand at once (tests/integration/test_failover_hosts)."""
    began = time.time()
    try:
        return await _converge(db, name, slot, connector, source=source, resync=resync, fence=fence, stop=stop)
    finally:
        ended = time.time()
        logger.debug("%s: pass over after %.2fs", name, ended - began,
                     extra={"host": name, "pass_began": round(began, 6), "pass_ended": round(ended, 6)})


async def _converge(db: Database, name: str, slot: Slot, connector: Connector, *, source: GitFollower | NoSource,
                    resync: float, fence: Callable[[Session], None], stop: asyncio.Event) -> bool:
    try:
        reconciled = await reconcile_stored_host(db, name, connector, stop=stop, fence=fence)
    except Fenced as exc:
        logger.warning("%s: pass not recorded: %s", name, exc, extra={"host": name, "result": "fenced"})
        slot.due = time.time()
        return False
    if reconciled is None:  # no longer stored (or unreadable): the next look at the DB drops its slot
        slot.due = math.inf
        source.host_gone(name)
        return True
    result = reconciled.result(resync)
    if result.error:
        delay = slot.failed()
        logger.warning("%s: failed: %s; retry in %ss", name, result.error, f"{delay:g}",
                       extra={"host": name, "result": "failed", "error": result.error, "retry_in": delay})
        return True
    slot.failures, slot.due = 0, time.time() + result.requeue_after
    if reconciled.outcome.status == "changed":
        logger.info("%s: converged (%d step(s))", name, reconciled.outcome.steps_run,
                    extra={"host": name, "result": "converged", "steps": reconciled.outcome.steps_run})
    return True


def crash_record(fence: Callable[[Session], None], name: str, started: float) -> Callable[[Session, str, float], None]:
    """What a crashed pass over `name` writes beside the controller's own failure (the host's
    Ready False, `record_pass_crashed`), unless the host's ownership moved on."""
    def record(session: Session, message: str, now: float) -> None:
        with contextlib.suppress(Fenced):
            fence(session)
            record_pass_crashed(session, name, message, now, started)
    return record
