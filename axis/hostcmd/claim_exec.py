"""`axis exec CLAIM -- CMD`: run a command on the claim's host while holding its lease.

Refuses before connecting when the claim is not bound or its lease has expired, and before
running when a fresh probe shows the host's available memory below what the lease holds (the
ledger only knows what axis handed out; something outside axis may have eaten the memory since).
The lease is renewed as the command starts (it may have had less than ttl/3 left) and then every
ttl/3 while it runs, so a long job never loses its host.
The command line is built by the caller as `axis on` builds it (several arguments are
`shlex.join`ed; a single argument is the user's own shell line); nothing from specs or the state
DB is ever pasted into it.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass

from axis.drivers.connector import Connector, with_connection
from axis.drivers.transport import OutputCallback, Transport, TransportError
from axis.placement.candidates import candidate
from axis.placement.ledger import extend_live
from axis.reconcile.observe import gather_facts
from axis.specs import Claim, Host, Kind
from axis.specs.units import format_duration, human_size
from axis.state import Database, leases
from axis.state.claims import get_status
from axis.state.objects import get_row, to_model


class ExecRefused(Exception):
    """The command was not started; the message says why and what to do."""


class ExecLost(Exception):
    """The connection failed while the command ran: its outcome is unknown."""


@dataclass(frozen=True)
class BoundClaim:
    """A claim, the host its lease binds it to, and what the lease holds there (not a transport
    Target: that one says how to reach a host, this one what a claim may use on it)."""

    claim: str
    host: Host
    memory: int
    ttl: int


def bound_target(db: Database, claim: str, *, now: float) -> BoundClaim:
    """The claim's host, or ExecRefused when the claim holds no live lease."""
    with db.read() as session:
        row = get_row(session, Kind.CLAIM, claim)
        if row is None:
            raise ExecRefused(f"claim {claim!r} not found")
        lease = leases.find(session, claim)
        if lease is None:
            status = get_status(session, claim)
            why = f"{status.phase}: {status.reason}" if status and status.reason else (status.phase if status else "Pending")
            raise ExecRefused(f"claim {claim!r} is not bound ({why}); `axis renew {claim}` binds it if a host fits")
        if lease.expires <= now:
            raise ExecRefused(f"the lease of claim {claim!r} on {lease.host} expired "
                              f"{format_duration(max(1, int(now - lease.expires)))} ago; `axis renew {claim}` "
                              "binds it again if a host fits")
        host_row = get_row(session, Kind.HOST, lease.host)
        if host_row is None:  # deleting a host releases its leases; this is a race with that
            raise ExecRefused(f"claim {claim!r} is bound to {lease.host}, which is no longer in the specs")
        spec = to_model(row, Claim)
        return BoundClaim(claim, to_model(host_row, Host), lease.memory_bytes, spec.spec.ttl)


async def check_memory(transport: Transport, target: BoundClaim) -> None:
    """Probe the host now; ExecRefused when its available memory is below the lease."""
    facts = await gather_facts(transport)
    host = candidate(target.host, "complete", "", facts.model_dump(mode="json"))
    if host.problem:
        raise ExecRefused(f"{target.host.metadata.name}: {host.problem} (--force runs anyway)")
    if host.available < target.memory:
        raise ExecRefused(f"{target.host.metadata.name} has {human_size(host.available)} available now, claim "
                          f"{target.claim!r} needs {human_size(target.memory)} (--force runs anyway)")


async def run_bound(db: Database, target: BoundClaim, line: str, *,
                    connector: Connector, clock: Callable[[], float], force: bool,
                    on_output: OutputCallback, renew_every: float | None = None) -> int:
    """Connect, check memory (unless `force`), run `line` streaming its output while renewing the
    lease; return the command's exit status. A TransportError means it never started; ExecLost
    that the connection failed while it ran. No deadline: the command runs as long as it runs,
    its lease renewed meanwhile (`with_connection` with an infinite one)."""
    async def work(transport: Transport, _left: float) -> int:
        if not force:
            await check_memory(transport, target)
        if extend_live(db, target.claim, now=clock(), host=target.host.metadata.name) is None:
            raise ExecRefused(f"the lease of claim {target.claim!r} ended before the command started (released "
                              f"or expired); `axis renew {target.claim}` binds it again if a host fits")
        renewer = asyncio.create_task(_keep_renewed(db, target, clock, on_output, renew_every or target.ttl / 3))
        try:
            result = await transport.run(line, on_output=on_output)
        except TransportError as exc:
            raise ExecLost(str(exc)) from exc
        finally:
            renewer.cancel()
        return result.exit_status

    return await with_connection(target.host, connector, math.inf, work)


async def _keep_renewed(db: Database, target: BoundClaim, clock: Callable[[], float], on_output: OutputCallback,
                        every: float) -> None:
    while True:
        await asyncio.sleep(every)
        if extend_live(db, target.claim, now=clock(), host=target.host.metadata.name) is None:
            on_output("stderr", f"axis: the lease of claim {target.claim!r} ended while the command ran "
                                "(released or expired); its memory is no longer reserved\n")
            return
