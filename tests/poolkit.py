"""Fakes for the tests of the controller's kept connections (`axis.drivers.pool`): a connector
that opens a fresh fake connection per connect and counts them, connections that can be lost,
fail or hold their commands, and helpers to lease one and let background closes run."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from axis.drivers.pool import ConnectionPool
from axis.drivers.transport import ErrorKind, RunResult, TransportError
from axis.specs import Host
from tests.fake_transport import FakeTransport


def host(name: str = "a", **spec: Any) -> Host:
    return Host.model_validate({"apiVersion": "axis/v1", "kind": "Host", "metadata": {"name": name},
                                "spec": {"address": f"{name}.lan", **spec}})


@dataclass
class Kept(FakeTransport):
    """A fake connection that can be lost (`lost_because`) and hears when it goes idle."""

    lost_because: str | None = None
    idle: list[bool] = field(default_factory=list)
    fail_with: BaseException | None = None  # the next run raises this
    in_flight: int = 0
    most_in_flight: int = 0
    release: asyncio.Event | None = None  # runs wait for it when set

    def lost(self) -> str | None:
        return self.lost_because

    def keep_idle(self, idle: bool) -> None:
        self.idle.append(idle)

    async def run(self, command: str, **kwargs: Any) -> RunResult:
        self.calls.append(command)
        if self.fail_with is not None:
            error, self.fail_with = self.fail_with, None
            raise error
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.release is not None:
                await self.release.wait()
            return RunResult(0, "ok\n", "")
        finally:
            self.in_flight -= 1


@dataclass
class Opener:
    """A Connector that opens a new `Kept` per connect (`opened`); hosts in `refuse` are refused."""

    opened: list[Kept] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    tries: int = 0

    async def connect(self, host: Host) -> Kept:
        self.tries += 1
        if host.metadata.name in self.refuse:
            raise TransportError(ErrorKind.UNREACHABLE, host.metadata.name, "connection refused by host")
        self.opened.append(Kept(host.metadata.name))
        return self.opened[-1]


async def use(pool: ConnectionPool, target: Host, command: str = "true", *, relayed: bool = False) -> RunResult:
    async with await (pool.connect(target, relayed=True) if relayed else pool.connect(target)) as lease:
        return await lease.run(command)


async def settle() -> None:
    """Let the pool's background closes run."""
    for _ in range(5):
        await asyncio.sleep(0)

