"""`axis on`'s host half: one ad-hoc command on one host under the batch's deadline, as a value."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from axis.drivers.connector import Connector, with_connection
from axis.drivers.transport import ErrorKind, TransportError
from axis.specs import Host


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


async def run_command(host: Host, connector: Connector, command: str, *, deadline: float,
                      on_output: Callable[[str, str], None] | None = None) -> CommandOutcome:
    """Connect, run `command` until the loop clock reaches `deadline`, close; never raises."""
    name = host.metadata.name
    try:
        result = await with_connection(host, connector, deadline,
                                       lambda t, left: t.run(command, timeout=left, on_output=on_output), grace=1.0)
    except TimeoutError:
        return CommandOutcome(name, EXIT_TIMEOUT, error="timed out")
    except TransportError as exc:
        code = EXIT_TIMEOUT if exc.kind is ErrorKind.TIMEOUT else EXIT_TRANSPORT
        return CommandOutcome(name, code, error=f"{exc.kind}: {exc.detail}")
    return CommandOutcome(name, result.exit_status, result.stdout, result.stderr)
