"""Reaching hosts: SSH options from the command line, a Host spec as a transport Target, and one
connection held for a piece of work under a deadline."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from axis.drivers.hostkeys import HostKeyPolicy
from axis.drivers.ssh import SSHTransport, connect
from axis.drivers.transport import Target
from axis.specs import Host

R = TypeVar("R")


@dataclass(frozen=True)
class SshOptions:
    """How to reach hosts; None means asyncssh's defaults (~/.ssh/config, ~/.ssh/known_hosts)."""

    ssh_config: Path | None = None
    known_hosts: Path | None = None
    policy: HostKeyPolicy = HostKeyPolicy.STRICT
    connect_timeout: float = 10.0

    async def connect(self, host: Host) -> SSHTransport:
        return await connect(target_for(host), known_hosts=self.known_hosts, policy=self.policy,
                             ssh_config=self.ssh_config, connect_timeout=self.connect_timeout)


def target_for(host: Host) -> Target:
    spec = host.spec
    return Target(name=host.metadata.name, address=spec.address, user=spec.user, port=spec.port, sudo=spec.sudo)


async def with_connection(host: Host, ssh: SshOptions, deadline: float,
                          work: Callable[[SSHTransport, float], Awaitable[R]]) -> R:
    """Connect, run `work(transport, seconds left until deadline)`, close.

    The work's own command timeout should fire first (it kills the command on the host); the
    deadline here, a second later, is the backstop. Raises TimeoutError or TransportError.
    """
    loop = asyncio.get_running_loop()
    async with asyncio.timeout_at(deadline + 1.0):
        transport = await ssh.connect(host)
        try:
            return await work(transport, max(0.0, deadline - loop.time()))
        finally:
            await transport.close()
