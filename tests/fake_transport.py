"""A scripted `Transport` for unit tests: answers by the first matching rule, records every call.

Feed it real captured output (tests/fixtures) so parsers and planners are tested on what hosts
really print; integration tests use real sshd hosts instead. Facts output scripted for a facts
script is answered in that script's own boundary, as a real host would print it (every run of
the script has a fresh one).
"""

from __future__ import annotations

import asyncio
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field

from axis.drivers.transport import (ClosedOnExit, ErrorKind, OutputCallback, RunResult, Transport, TransportError,
                                    command_failed, privileged, sudo_refusal)
from axis.specs import Host
from tests.factskit import has_boundary, reframe, script_boundary


async def run_here(argv: list[str], *, input: str | None = None, env: dict[str, str] | None = None,
                   timeout: float | None = 60) -> RunResult:
    """Run `argv` on this machine for a fake host that runs real scripts: stdin `input`, the
    output and exit status as a RunResult; past `timeout` seconds a TimeoutError, the child killed.

    In a worker thread, not an asyncio subprocess: when a host task raises or a fan-out stops,
    the pass is cancelled mid-script, and an asyncio child left behind kept `asyncio.run` waiting
    at shutdown, so the test hung instead of failing. The thread ends with its child."""
    try:
        proc = await asyncio.to_thread(subprocess.run, argv, input=input or "", capture_output=True, text=True,
                                       env=env, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise TimeoutError(f"{argv[0]} still running after {timeout}s") from exc
    return RunResult(proc.returncode, proc.stdout, proc.stderr)


@dataclass
class FakeTransport(ClosedOnExit):
    name: str = "fake"
    rules: list[tuple[str, RunResult]] = field(default_factory=list)
    login_is_root: bool = True
    sudo_allowed: bool = True
    calls: list[str] = field(default_factory=list)
    files: dict[str, tuple[bytes, int]] = field(default_factory=dict)
    closed: bool = False

    def script(self, pattern: str, stdout: str = "", stderr: str = "", exit_status: int = 0) -> FakeTransport:
        """Answer commands matching the regex `pattern` (searched in the final command line, and
        in its stdin after a newline)."""
        self.rules.append((pattern, RunResult(exit_status, stdout, stderr)))
        return self

    async def run(self, command: str, *, input: str | None = None, timeout: float | None = None,
                  sudo: bool = False, check: bool = False,
                  on_output: OutputCallback | None = None) -> RunResult:
        line = privileged(command, login_is_root=self.login_is_root, sudo_allowed=self.sudo_allowed) if sudo else command
        if input is not None:  # what the command reads on stdin (the facts script) follows it
            line = f"{line}\n{input}"
        self.calls.append(line)
        result = next((r for p, r in self.rules if re.search(p, line)), None)
        if result is None:
            raise AssertionError(f"FakeTransport: no scripted answer for {line!r}")
        if (boundary := script_boundary(line)) is not None and has_boundary(result.stdout):
            result = RunResult(result.exit_status, reframe(result.stdout, boundary), result.stderr)
        if on_output is not None:
            on_output("stdout", result.stdout)
            on_output("stderr", result.stderr)
        if sudo and (refused := sudo_refusal(self.name, result)) is not None:
            raise refused
        if check and not result.ok:
            raise command_failed(self.name, command, result)
        return result

    def as_root(self, command: str) -> str:
        return privileged(command, login_is_root=self.login_is_root, sudo_allowed=self.sudo_allowed)

    async def put(self, path: str, data: bytes, *, mode: int = 0o644, sudo: bool = False,
                  expect: str | None = None) -> None:
        self.calls.append(f"put {path}")
        self.files[path] = (data, mode)

    async def close(self) -> None:
        self.closed = True


@dataclass
class FakeConnector:
    """A `Connector` over fake hosts: `transports` by host name; a host in `dead` refuses the
    connection (`refusal`, as SSH reports it). `connected` lists the names asked for, in order."""

    transports: Mapping[str, Transport]
    dead: frozenset[str] = frozenset()
    refusal: str = "connection refused by host (is sshd running?)"
    connected: list[str] = field(default_factory=list)

    async def connect(self, host: Host) -> Transport:
        name = host.metadata.name
        self.connected.append(name)
        if name in self.dead:
            raise TransportError(ErrorKind.UNREACHABLE, name, self.refusal)
        return self.transports[name]
