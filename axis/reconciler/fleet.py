"""Reaching hosts: SSH options from the command line, a Host spec as a transport Target, and a
bounded concurrent fan-out in which one slow or dead host never holds up the others."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from axis.drivers.hostkeys import HostKeyPolicy
from axis.drivers.ssh import SSHTransport, connect
from axis.drivers.transport import ErrorKind, Target, TransportError
from axis.specs import Host

T = TypeVar("T")
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


async def fan_out(items: Iterable[T], work: Callable[[T], Awaitable[R]], *, jobs: int,
                  on_done: Callable[[T, R], None] | None = None) -> list[R]:
    """Run `work` on every item, at most `jobs` at once; results in input order.

    `work` must turn its own failures into results: one host's exception must not cancel the rest.
    """
    gate = asyncio.Semaphore(max(1, jobs))

    async def one(item: T) -> R:
        async with gate:
            result = await work(item)
        if on_done is not None:
            on_done(item, result)
        return result

    return list(await asyncio.gather(*(one(item) for item in items)))


@dataclass(frozen=True)
class CommandOutcome:
    """One host's result of an ad-hoc command: its exit code, or the reason it never ran/finished."""

    host: str
    exit_status: int
    stdout: str = ""
    stderr: str = ""
    error: str | None = None


#: Exit codes for hosts that did not give one, as ssh and timeout(1) use them.
EXIT_TIMEOUT = 124
EXIT_TRANSPORT = 255


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


async def run_command(host: Host, ssh: SshOptions, command: str, *, deadline: float,
                      on_output: Callable[[str, str], None] | None = None) -> CommandOutcome:
    """Connect, run `command` until the loop clock reaches `deadline`, close; never raises."""
    name = host.metadata.name
    try:
        result = await with_connection(host, ssh, deadline,
                                       lambda t, left: t.run(command, timeout=left, on_output=on_output))
    except TimeoutError:
        return CommandOutcome(name, EXIT_TIMEOUT, error="timed out")
    except TransportError as exc:
        code = EXIT_TIMEOUT if exc.kind is ErrorKind.TIMEOUT else EXIT_TRANSPORT
        return CommandOutcome(name, code, error=f"{exc.kind}: {exc.detail}")
    return CommandOutcome(name, result.exit_status, result.stdout, result.stderr)
