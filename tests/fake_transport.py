"""A scripted `Transport` for unit tests: answers by the first matching rule, records every call.

Feed it real captured output (tests/fixtures) so parsers and planners are tested on what hosts
really print; integration tests use real sshd hosts instead. Facts output scripted for a facts
script is answered in that script's own boundary, as a real host would print it (every run of
the script has a fresh one).
"""

from __future__ import annotations

import asyncio
import re
import shlex
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
            for stream, text in (("stdout", result.stdout), ("stderr", result.stderr)):
                if (paced := on_output(stream, text)) is not None:
                    await paced
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


# `axis exec` runs its command as a job (axis/drivers/jobs): a start command with the runner on
# stdin, then the state command, then the command that forgets the job's directory.
_JOB_START = re.escape('cat > "$d/runner.sh"')
_JOB_STATE = re.escape("echo missing=1")
_JOB_FORGET = re.escape('rm -rf -- "$d"')


def script_job(fake: FakeTransport, stdout: str = "", stderr: str = "", exit_status: int = 0,
               state: str | None = None) -> FakeTransport:
    """Script a job: its start command prints `stdout`/`stderr` and exits `exit_status`; the
    state command then answers `state` (default: ended with that status under the watchdog)."""
    recorded = state if state is not None else (f"running=0\nexit={exit_status}\nenforcement=watchdog no memory "
                                                "controller\ncap=4294967296\npgid=4242\n")
    return fake.script(_JOB_START, stdout, stderr, exit_status=exit_status).script(_JOB_STATE, recorded).script(
        _JOB_FORGET, "")


def job_starts(fake: FakeTransport) -> list[list[str]]:
    """The arguments of each job start the transport saw (the user's line is the last)."""
    return [shlex.split(call.split("\n", 1)[0])[4:] for call in fake.calls if re.search(_JOB_START, call)]
