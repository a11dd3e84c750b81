"""What a front end does with detached jobs: start one on a claim's host, read its output, stop it
(`axis.hostcmd.detached` does the host side; the controller's jobs pass follows them after)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace

from axis.app.context import AppContext
from axis.drivers.transport import OutputCallback
from axis.hostcmd.claim_exec import bound_target
from axis.hostcmd.detached import Started, start_detached, stop_job, stream_logs
from axis.placement.job_lease import Ending
from axis.specs.units import format_duration
from axis.state.lock import controller_holder


def start_job(app: AppContext, claim: str, line: str, *, clock: Callable[[], float], force: bool,
              no_cap: bool) -> Started:
    """Start `line` detached on the host `claim` is bound to, capped at its lease's memory (not
    with `no_cap`). ExecRefused (not started), TransportError (host unreachable) and ExecLost
    (the connection failed while it started) say why it may not run. `warning` on the result
    when no controller runs to renew the lease while the job runs."""
    db = app.db()
    target = bound_target(db, claim, now=clock())
    started = asyncio.run(start_detached(db, target, line, connector=app.connector, clock=clock, force=force,
                                         no_cap=no_cap))
    if controller_holder(app.state) is None:
        return replace(started, warning=(
            f"no controller runs on this state DB, and only a controller renews a detached job's lease: "
            f"the lease of claim {claim!r} expires in {format_duration(target.ttl)} unless `axis renew {claim}` "
            f"extends it, and the next controller stops a job whose lease expired (`axis controller`)"))
    return started


def job_logs(app: AppContext, claim: str, *, follow: bool, on_output: OutputCallback) -> int:
    """Stream the output of the claim's newest detached job (`follow`: until it ends)."""
    return asyncio.run(stream_logs(app.db(), claim, follow=follow, connector=app.connector, on_output=on_output))


def stop(app: AppContext, claim: str, *, clock: Callable[[], float]) -> Ending | None:
    """Stop the claim's running detached job; how it ended, None if it still runs after the stop."""
    return asyncio.run(stop_job(app.db(), claim, connector=app.connector, clock=clock))
