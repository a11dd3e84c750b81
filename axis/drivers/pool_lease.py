"""A kept connection of the pool (`axis.drivers.pool`) and the leases on it: what a caller of the
pool's `connect` holds. A lease is the connection's Transport, except that its commands wait for
one of the connection's session slots, and leaving its `async with` gives the connection back.

Two budgets of slots per connection: the controller's own (passes, the job watch: `max_sessions`)
and the command line's relayed calls (`max_relayed`), so that four long `axis on gpu1 ...` through
the controller's socket never starve its passes on that host, nor the passes the command line.
Both together stay under OpenSSH's MaxSessions (10 by default), which counts a channel until the
server has closed it and a timed-out command briefly as two (its own and the one that kills it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar, runtime_checkable

from axis.drivers.transport import ClosedOnExit, OutputCallback, RunResult, Target, Transport

R = TypeVar("R")


@runtime_checkable
class KeptTransport(Protocol):
    """What the pool asks of a transport it keeps, where the transport can tell (the SSH one)."""

    def lost(self) -> str | None:
        """None while the connection is open, else why it closed."""

    def keep_idle(self, idle: bool) -> None:
        """Told when the connection goes idle (no lease) and back in use."""


@dataclass(eq=False)
class KeptConnection:
    """One open connection: to whom (`target`), its two budgets of session slots (the
    controller's own, the relayed calls'), its leases, when it was last handed back."""

    target: Target
    transport: Transport
    sessions: asyncio.Semaphore
    relayed: asyncio.Semaphore
    leases: int = 0
    last_used: int = 0  # the pool's use counter: the lowest is the least recently used
    retired: bool = False
    closed: bool = False
    idle_timer: asyncio.TimerHandle | None = None


class Lease(ClosedOnExit):
    """A host's kept connection lent for one piece of work: the connection's Transport, except
    that closing it (leaving `async with`) gives the connection back to the pool (`on_return`),
    and a failure that is not the command's own answer is told to it (`on_failure`)."""

    def __init__(self, kept: KeptConnection, slots: asyncio.Semaphore, *,
                 on_failure: Callable[[KeptConnection, BaseException], None],
                 on_return: Callable[[KeptConnection], None]):
        self.name: str = kept.transport.name
        self._kept, self._slots = kept, slots
        self._on_failure, self._on_return = on_failure, on_return
        self._returned = False

    async def run(self, command: str, *, input: str | None = None, timeout: float | None = None,
                  sudo: bool = False, check: bool = False,
                  on_output: OutputCallback | None = None) -> RunResult:
        return await self._session(lambda t: t.run(command, input=input, timeout=timeout, sudo=sudo, check=check,
                                                   on_output=on_output))

    async def put(self, path: str, data: bytes, *, mode: int = 0o644, sudo: bool = False,
                  expect: str | None = None) -> None:
        await self._session(lambda t: t.put(path, data, mode=mode, sudo=sudo, expect=expect))

    async def _session(self, work: Callable[[Transport], Awaitable[R]]) -> R:
        """`work` on the connection once one of this lease's slots is free; a failure goes to
        `on_failure` (the pool retires the connection unless it was the command's own answer)."""
        async with self._slots:
            try:
                return await work(self._kept.transport)
            except BaseException as exc:
                self._on_failure(self._kept, exc)
                raise

    def as_root(self, command: str) -> str:
        return self._kept.transport.as_root(command)

    async def close(self) -> None:
        """Give the connection back (once)."""
        if not self._returned:
            self._returned = True
            self._on_return(self._kept)
