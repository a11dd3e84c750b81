"""Reaching hosts: the `Connector` every host-touching pass is given, the SSH one built from the
command line's options, and the one place that holds a connection for a piece of work under a
deadline and closes it (`with_connection`; `axis exec` passes an infinite deadline, since a
command it streams runs as long as it runs).

Passes take a Connector rather than SSH options so that tests hand in a fake one; `SshOptions`
is the real one (a Host spec's address, user, port and sudo as a transport Target).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

from axis.drivers.host_key_policy import HostKeyPolicy
from axis.drivers.transport import Target, Transport

if TYPE_CHECKING:  # every command builds SshOptions; asyncssh is imported when one first connects
    from axis.drivers.ssh import SSHTransport
    from axis.specs import Host

R = TypeVar("R")


class Connector(Protocol):
    """Opens a transport to a Host; raises TransportError when it cannot."""

    async def connect(self, host: Host) -> Transport: ...


@dataclass(frozen=True)
class SshOptions:
    """How to reach hosts over SSH; None means asyncssh's defaults (~/.ssh/config, ~/.ssh/known_hosts)."""

    ssh_config: Path | None = None
    known_hosts: Path | None = None
    policy: HostKeyPolicy = HostKeyPolicy.STRICT
    connect_timeout: float = 10.0

    async def connect(self, host: Host) -> SSHTransport:
        from axis.drivers.ssh import connect

        return await connect(target_for(host), known_hosts=self.known_hosts, policy=self.policy,
                             ssh_config=self.ssh_config, connect_timeout=self.connect_timeout)


def target_for(host: Host) -> Target:
    spec = host.spec
    return Target(name=host.metadata.name, address=spec.address, user=spec.user, port=spec.port, sudo=spec.sudo)


async def with_connection(host: Host, connector: Connector, deadline: float,
                          work: Callable[[Transport, float], Awaitable[R]], *, grace: float = 0.0) -> R:
    """Connect, run `work(transport, seconds left until deadline)`, close: all of it before the
    loop clock reaches `deadline + grace`, else TimeoutError. Raises TransportError as connecting does.

    With a `grace`, the work's own command timeout (the seconds left) fires first and kills the
    command on the host; the deadline plus grace is the backstop.
    """
    import asyncio  # here: a command that reaches no host does not import it

    loop = asyncio.get_running_loop()
    async with asyncio.timeout_at(deadline + grace):
        async with await connector.connect(host) as transport:
            return await work(transport, max(0.0, deadline - loop.time()))
