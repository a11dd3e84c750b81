"""Warm connections: the controller's `Connector` that keeps one connection per host open across passes, so that a
no-op resync pass costs one command on an open connection instead of a TCP and SSH handshake (key exchange, host
key check, public-key authentication) every time.

`ConnectionPool(inner)` is itself a Connector. `connect(host)` hands out a `Lease` on the host's kept connection,
opened through `inner` when there is none; leaving the lease's `async with` gives the connection back instead of
closing it. A host pass, the job watch and requests relayed for the CLI may hold leases on one host at once: SSH
multiplexes their commands as channels of the one connection, at most `max_sessions` of the controller's own and
`max_relayed` of the CLI's at a time (two budgets: `axis.drivers.pool_lease`), the others waiting for a free one.

Not reused (the next `connect` opens another, the reason logged): a connection on which a command failed for a
reason other than the command's own answer (connection lost, timed out, channel refused, cancelled mid-command,
which may leave its channel open on the host), closed when its last lease ends; one the host closed while it sat
idle (sshd restarted, the session killed); one opened for another address, user, port or sudo of the host (for a
relayed connect whose spec of the host is not the kept one's: a connection of its own, closed after it, instead).

A host whose connect fails is not tried again for a backoff (`backoff_first` seconds, doubling per failure in a row
up to `backoff_max`): a `connect` meanwhile raises at once the last failure's TransportError, the wait left added to
its words, so neither a dead host nor the callers hitting it (passes, job watch, the CLI through the controller)
pay a connect timeout each time, and no caller waits for the backoff to end.

Connections nobody leased for `idle_close` seconds are closed; past `max_open` open ones, the least recently used
idle one is closed (a leased one never is: the surplus is closed as its leases end). `aclose()` closes everything.
The pool lives on one event loop, the controller's.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field

from axis.drivers.connector import Connector, target_for
from axis.drivers.pool_lease import KeptConnection, KeptTransport, Lease
from axis.drivers.transport import ErrorKind, Target, Transport, TransportError
from axis.specs import Host

logger = logging.getLogger(__name__)

#: A command's own answers: the connection that carried them is healthy and stays kept.
_ANSWERS = frozenset({ErrorKind.COMMAND_FAILED, ErrorKind.SUDO})
#: Seconds a close may take (a host gone silent never answers the disconnect).
_CLOSE_WITHIN = 5.0


@dataclass
class _Failures:
    """A host's failed connects in a row (to `target`): the last error and when the next try may happen."""

    target: Target
    count: int
    error: TransportError
    retry_at: float


@dataclass
class ConnectionPool:
    """A Connector that keeps one connection per host open across passes (module docstring).

    `counts` says what it did: connections opened (`opened`), leases served by a kept one
    (`reused`), connections retired after a failure or found closed (`dropped`), closed for the
    cap (`evicted`) or after idling (`idle_closed`), connects that failed (`failed`), and relayed
    connects given a connection of their own (`unkept`)."""

    inner: Connector
    _: KW_ONLY
    max_open: int = 256
    idle_close: float = 300.0
    max_sessions: int = 4
    max_relayed: int = 3
    backoff_first: float = 1.0
    backoff_max: float = 30.0
    clock: Callable[[], float] = time.monotonic
    counts: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._kept: dict[str, KeptConnection] = {}
        self._retired: set[KeptConnection] = set()  # retired, still leased: closed when the last lease ends
        self._failures: dict[str, _Failures] = {}  # by host name
        self._locks: dict[str, asyncio.Lock] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._uses = itertools.count(1)
        self._closed = False

    @property
    def open_connections(self) -> int:
        return len(self._kept) + len(self._retired)

    async def connect(self, host: Host, *, now: bool = False, relayed: bool = False) -> Transport:
        """A lease on `host`'s kept connection, opened now if it has none (or none fit to reuse); raises
        TransportError as the inner connector does, or at once during a backoff (unless `now`: a real try).
        `relayed`: for the command line (the controller's socket): its own budget of session slots, and
        where its spec of the host (address, user, port, sudo) is not the kept connection's, a connection
        of its own, not kept, rather than retiring the one the controller's passes use."""
        target = target_for(host)
        name = target.name
        async with self._locks.setdefault(name, asyncio.Lock()):
            if self._closed:
                raise TransportError(ErrorKind.ERROR, name, "the connection pool is closed (the controller is stopping)")
            kept = self._kept.get(name)
            if not (relayed and kept is not None and kept.target != target):
                return await self._kept_lease(host, target, kept, now, relayed)
        logger.info("%s: the command line's address, user, port or sudo are not the controller's; a connection "
                    "of its own, not kept", name, extra={"host": name})
        self.counts["unkept"] += 1
        return await self.inner.connect(host)

    async def _kept_lease(self, host: Host, target: Target, kept: KeptConnection | None, now: bool,
                          relayed: bool) -> Lease:
        name = target.name
        if kept is not None and kept.target != target:
            logger.info("%s: its address, user, port or sudo changed; opening a new connection", name,
                        extra={"host": name})
            self._retire(kept)
        elif kept is not None and isinstance(kept.transport, KeptTransport) and (why := kept.transport.lost()):
            logger.info("%s: its kept SSH connection was closed (%s); reconnecting", name, why,
                        extra={"host": name, "reason": why})
            self.counts["dropped"] += 1
            self._retire(kept)
        elif kept is not None:
            self.counts["reused"] += 1
            return self._lease(kept, relayed)
        lease = self._lease(await self._open(host, target, now), relayed)
        self._evict_over_cap()
        return lease

    async def _open(self, host: Host, target: Target, now: bool) -> KeptConnection:
        name = target.name
        failed = self._failures.get(name)
        if failed is not None and failed.target != target:  # another address: its own first try
            failed = None
        if failed is not None and not now and (left := failed.retry_at - self.clock()) > 0:
            raise TransportError(failed.error.kind, name, f"{failed.error.detail} (not tried again for {left:.1f}s "
                                                          f"after {failed.count} failed connect(s) in a row)")
        try:
            transport = await self.inner.connect(host)
        except TransportError as exc:
            count = failed.count + 1 if failed is not None else 1
            delay = min(self.backoff_max, self.backoff_first * 2 ** min(count - 1, 30))
            self._failures[name] = _Failures(target, count, exc, self.clock() + delay)
            self.counts["failed"] += 1
            raise
        self._failures.pop(name, None)
        if failed is not None:
            logger.info("%s: connected again after %d failed connect(s)", name, failed.count,
                        extra={"host": name, "failed_connects": failed.count})
        self.counts["opened"] += 1
        kept = KeptConnection(target, transport, asyncio.Semaphore(self.max_sessions), asyncio.Semaphore(self.max_relayed))
        self._kept[name] = kept
        return kept

    def _lease(self, kept: KeptConnection, relayed: bool) -> Lease:
        _stop_timer(kept)
        if kept.leases == 0 and isinstance(kept.transport, KeptTransport):
            kept.transport.keep_idle(False)
        kept.leases += 1
        return Lease(kept, kept.relayed if relayed else kept.sessions, on_failure=self._failed, on_return=self._release)

    def _release(self, kept: KeptConnection) -> None:
        """A lease ended: close a retired connection once unleased, else keep it idle."""
        kept.leases -= 1
        kept.last_used = next(self._uses)
        if kept.leases > 0:
            return
        if kept.retired or self._closed:
            self._retired.discard(kept)
            self._close(kept)
            return
        if isinstance(kept.transport, KeptTransport):
            kept.transport.keep_idle(True)
        kept.idle_timer = asyncio.get_running_loop().call_later(self.idle_close, self._expire, kept)
        self._evict_over_cap()

    def _failed(self, kept: KeptConnection, error: BaseException) -> None:
        """A command on `kept` ended with `error`: retire the connection unless it was the
        command's own answer."""
        if kept.retired or (isinstance(error, TransportError) and error.kind in _ANSWERS):
            return
        reason = str(error) if isinstance(error, TransportError) else (
            "a command was cancelled mid-way" if isinstance(error, asyncio.CancelledError)
            else f"{type(error).__name__}: {error}")
        logger.warning("%s: dropping its kept SSH connection: %s; the next use reconnects", kept.target.name, reason,
                       extra={"host": kept.target.name, "reason": reason})
        self.counts["dropped"] += 1
        self._retire(kept)

    def _retire(self, kept: KeptConnection) -> None:
        """Never hand `kept` out again; closed now if unleased, else when its last lease ends."""
        kept.retired = True
        if self._kept.get(kept.target.name) is kept:
            del self._kept[kept.target.name]
        if kept.leases > 0:
            self._retired.add(kept)
        else:
            self._close(kept)

    def _expire(self, kept: KeptConnection) -> None:
        kept.idle_timer = None
        if kept.leases == 0 and self._kept.get(kept.target.name) is kept:
            logger.debug("%s: closing its SSH connection, unused for %gs", kept.target.name, self.idle_close,
                         extra={"host": kept.target.name})
            self.counts["idle_closed"] += 1
            self._retire(kept)

    def _evict_over_cap(self) -> None:
        """Past `max_open`, close the least recently used idle connections."""
        idle = sorted((k for k in self._kept.values() if k.leases == 0), key=lambda k: k.last_used)
        for kept in idle[:max(0, self.open_connections - self.max_open)]:
            logger.debug("%s: closing its idle SSH connection: %d open, at most %d kept", kept.target.name,
                         self.open_connections, self.max_open, extra={"host": kept.target.name})
            self.counts["evicted"] += 1
            self._retire(kept)

    def _close(self, kept: KeptConnection) -> None:
        if kept.closed:
            return
        kept.closed = True
        _stop_timer(kept)
        task = asyncio.get_running_loop().create_task(_close_quietly(kept.transport))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def aclose(self) -> None:
        """Close every connection, leased or not; a later `connect` raises."""
        self._closed = True
        everything = [*self._kept.values(), *self._retired]
        self._kept.clear()
        self._retired.clear()
        for kept in everything:  # a leased one too: its lease's next command fails
            kept.retired = True
            self._close(kept)
        await asyncio.gather(*self._closing, return_exceptions=True)


def _stop_timer(kept: KeptConnection) -> None:
    if kept.idle_timer is not None:
        kept.idle_timer.cancel()
        kept.idle_timer = None


async def _close_quietly(transport: Transport) -> None:
    """Close, within _CLOSE_WITHIN seconds; a connection already gone is no error here."""
    with contextlib.suppress(Exception, TimeoutError):
        async with asyncio.timeout(_CLOSE_WITHIN):
            await transport.close()
