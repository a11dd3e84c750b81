"""The one small interface every host-touching step goes through: `run` a command, `put` a file.

Drivers and the reconcile code against `Transport`; `axis.drivers.ssh` implements it over one
asyncssh connection per host, `tests/fake_transport.py` with scripted answers for unit tests. A
transport is an async context manager (`async with`, closed on exit); a `Connector`
(`axis.drivers.connector`) opens one. Failures
are one exception type whose `kind` says in plain words what went wrong, so a fan-out can report
"unreachable" or "sudo needs a password" per host instead of a traceback.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
import re
import shlex
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from types import TracebackType
from typing import Protocol, Self

#: Streamed output: called with ("stdout" | "stderr", text chunk) as it arrives. What it returns,
#: when not None, is awaited before more output is read: a reader that falls behind (the relay to a
#: suspended command line, `axis.app.relay_session`) then slows the command down through SSH's flow
#: control, as its own connection would, instead of having its output buffered without bound.
OutputCallback = Callable[[str, str], Awaitable[None] | None]


class ErrorKind(StrEnum):
    UNREACHABLE = "unreachable"
    TIMEOUT = "timed out"
    AUTH = "auth refused"
    HOST_KEY_MISMATCH = "host key mismatch"
    HOST_KEY_UNKNOWN = "host key unknown"
    SUDO = "sudo needs a password"
    COMMAND_FAILED = "command failed"
    ERROR = "error"


class TransportError(Exception):
    """A host could not do what was asked; `str()` is one line: `host: kind: detail`."""

    def __init__(self, kind: ErrorKind, host: str, detail: str, result: RunResult | None = None):
        super().__init__(f"{host}: {kind}: {detail}")
        self.kind = kind
        self.host = host
        self.detail = detail
        self.result = result  # for COMMAND_FAILED: what the command printed

    @property
    def host_message(self) -> str:
        """The host's own words: the stderr tail of a failed command, else the detail."""
        if self.result is not None and self.result.stderr_tail():
            return f"{self.result.stderr_tail()} (exit {self.result.exit_status})"
        return self.detail


@dataclass(frozen=True)
class Target:
    """How to reach one host; None leaves the choice to ~/.ssh/config and ssh's defaults."""

    name: str
    address: str
    user: str | None = None
    port: int | None = None
    sudo: bool = False


@dataclass(frozen=True)
class RunResult:
    exit_status: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_status == 0

    def stderr_tail(self, lines: int = 3) -> str:
        tail = [line for line in self.stderr.strip().splitlines() if line.strip()][-lines:]
        return " | ".join(tail)


class Transport(Protocol):
    """A connection to one host, reused for every step of a pass."""

    name: str

    async def run(self, command: str, *, input: str | None = None, timeout: float | None = None,
                  sudo: bool = False, check: bool = False,
                  on_output: OutputCallback | None = None) -> RunResult:
        """Run a shell command line. `sudo` runs it as root (via `sudo -n` when the login user is
        not root and the host allows sudo); `check` raises COMMAND_FAILED on a non-zero exit."""
        ...

    async def put(self, path: str, data: bytes, *, mode: int = 0o644, sudo: bool = False,
                  expect: str | None = None) -> None:
        """Write a file atomically (temp file + rename in the same directory). With `expect` (see
        `atomic_write_command`), only over the content that was read: else COMMAND_FAILED."""
        ...

    def as_root(self, command: str) -> str:
        """The command line that runs `command` with the privilege of a `sudo=True` run (see
        `privileged`), for a command that travels inside another script (the feature probes)."""
        ...

    async def close(self) -> None: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        tb: TracebackType | None) -> None: ...


class ClosedOnExit(ABC):
    """`async with transport:` closes it on the way out, whatever happened inside: every
    transport (the SSH one, the tests' fakes) inherits this, so no caller writes try/finally."""

    @abstractmethod
    async def close(self) -> None:
        """Close the connection; idempotent."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()


# sudo's own refusals, as opposed to the command's errors: these are never a command result.
_SUDO_PASSWORD = re.compile(r"sudo: (a password is required|a terminal is required|no tty present)")
_SUDO_DENIED = re.compile(r"is not in the sudoers file|is not allowed to execute|sudo: command not found")


def privileged(command: str, *, login_is_root: bool, sudo_allowed: bool) -> str:
    """The command line that runs `command` as root: itself for root, else under `sudo -n sh -c`.

    `-n` makes sudo fail at once instead of waiting for a password nobody will type. A host
    without `sudo: true` runs the command as the login user, and the host's own refusal
    (permission denied) is reported as it is.
    """
    if login_is_root or not sudo_allowed:
        return command
    return f"sudo -n sh -c {shlex.quote(command)}"


def sudo_refusal(host: str, result: RunResult) -> TransportError | None:
    """The error to raise when a privileged command failed because sudo itself refused."""
    if result.exit_status == 0:
        return None
    if _SUDO_PASSWORD.search(result.stderr):
        return TransportError(ErrorKind.SUDO, host, "`sudo -n` asked for a password; allow passwordless "
                                                    "sudo for this user or log in as root")
    if _SUDO_DENIED.search(result.stderr):
        return TransportError(ErrorKind.SUDO, host, f"sudo refused: {result.stderr_tail(1)}")
    return None


def command_failed(host: str, command: str, result: RunResult) -> TransportError:
    first = command.strip().splitlines()[0] if command.strip() else command
    short = first if len(first) <= 60 else first[:57] + "..."
    tail = result.stderr_tail() or "(no stderr)"
    return TransportError(ErrorKind.COMMAND_FAILED, host, f"`{short}` exited {result.exit_status}: {tail}", result)


#: `expect` for a file that must not exist yet when it is written.
ABSENT = "absent"
_DIGEST_RE = re.compile(r"[0-9a-f]{64}")

#: sh function `_axis_sha256`: stdin's SHA-256 with the tool the host has (GNU/busybox sha256sum,
#: macOS/BSD shasum, else openssl); status 127 and a message when it has none.
_SHA256_FN = (
    "_axis_sha256() { if command -v sha256sum >/dev/null 2>&1; then sha256sum; "
    "elif command -v shasum >/dev/null 2>&1; then shasum -a 256; "
    "elif command -v openssl >/dev/null 2>&1; then openssl dgst -sha256; "
    "else echo 'no sha256sum, shasum or openssl to check the file with' >&2; return 127; fi; }; ")


def content_digest(data: bytes | None) -> str:
    """The `expect` of a write over `data` as a probe read it (None: the file was absent)."""
    return ABSENT if data is None else hashlib.sha256(data).hexdigest()


def _unchanged_check(path: str, expect: str) -> str:
    """Shell (a `&&` term) that fails with a clear message unless `path` is still `expect`."""
    if expect != ABSENT and not _DIGEST_RE.fullmatch(expect):
        raise ValueError(f"expect must be {ABSENT!r} or a SHA-256 in hex, not {expect!r}")
    target = shlex.quote(path)
    changed = shlex.quote(f"{path} changed since it was read; not overwritten; the next pass re-reads it")
    # sha256sum/shasum print "HEX  -", openssl "(stdin)= HEX" or "SHA2-256(stdin)= HEX"
    return (f"{{ if [ -e {target} ] || [ -L {target} ]; then _axis_h=$(_axis_sha256 < {target}); "
            f"else _axis_h={ABSENT}; fi; }} && _axis_h=${{_axis_h##*= }} && _axis_h=${{_axis_h%% *}} && "
            f"{{ [ \"$_axis_h\" = {expect} ] || {{ echo {changed} >&2; false; }}; }}")


def atomic_write_command(path: str, mode: int, size: int | None = None, expect: str | None = None) -> str:
    """Shell that writes stdin to `path` atomically: a temp file beside it, chmod, then rename.

    A reader (or a crash) sees the old file or the new one, never half of it. A missing parent
    directory (such as /etc/systemd/system.conf.d) is created. With `size`, the rename happens
    only if exactly that many bytes arrived: a connection lost mid-transfer ends stdin early,
    and `cat` would otherwise take the truncated content for the whole file.

    The temp file is named after its target (`.axis-tmp.<name>.XXXXXX`) so that the next write
    of the same file removes what a killed write left behind (a `kill -9` of sshd runs no
    shell trap); the apply lock keeps two axis runs from writing one file at once.

    `tmp` is emptied first: the login shell may bring one from the environment or ~/.bashrc,
    and the cleanup after a failed `mkdir` or `mktemp` would then delete that unrelated file.

    With `expect` (`content_digest` of the bytes the probe read, or ABSENT), the file is
    compared with it right before the rename, and a file edited since it was read (by hand, or
    by a package, while a swap file was being written) is not overwritten: the write fails with
    "PATH changed since it was read; not overwritten; the next pass re-reads it". Only the
    instant between that check and `mv` is left uncovered; axis itself never writes there.
    """
    target = shlex.quote(path)
    directory, _, name = path.rpartition("/")
    directory = directory or "/"
    prefix = f"{directory.rstrip('/')}/.axis-tmp.{name}."
    complete = (f" && {{ test \"$(wc -c < \"$tmp\")\" -eq {int(size)} || "
                f"{{ echo \"short write: $(wc -c < \"$tmp\") of {int(size)} bytes\" >&2; false; }}; }}"
                if size is not None else "")
    check = f" && {_unchanged_check(path, expect)}" if expect is not None else ""
    return ((_SHA256_FN if expect is not None else "")
            + f"tmp=; mkdir -p {shlex.quote(directory)} && rm -f {shlex.quote(prefix)}?????? && "
            f"tmp=$(mktemp {shlex.quote(prefix + 'XXXXXX')}) && "
            f"{{ cat > \"$tmp\"{complete} && chmod {mode:o} \"$tmp\"{check} && mv -f \"$tmp\" {target}; }} "
            f"|| {{ rc=$?; [ -z \"$tmp\" ] || rm -f \"$tmp\"; exit $rc; }}")


def _pid_file(token: str) -> str:
    return f'"${{TMPDIR:-/tmp}}/.axis-run.{token}"'


def killable(command: str, token: str) -> str:
    """`command` run so that a timeout can kill all of it: the session's process group id goes
    to a file named by `token` (removed when the command ends), for `kill_command` to use.

    Why not an SSH signal: OpenSSH refuses channel signals for root sessions, and closing the
    channel does not stop a command that is not writing (a `sleep 30` would live on).

    The group id is the 5th field of /proc/$$/stat, read by the shell itself (the 3rd after the
    `(comm)` field, which may hold blanks); `ps` (a few ms of the host's CPU per command) only
    where there is no /proc (macOS).
    """
    pid_file = _pid_file(token)
    return (f"{{ IFS= read -r _axis_s < /proc/$$/stat; }} 2>/dev/null && _axis_s=${{_axis_s##*) }} && "
            f"set -- $_axis_s && [ -n \"$3\" ] && echo \"$3\" > {pid_file} 2>/dev/null "
            f"|| ps -o pgid= -p $$ > {pid_file} 2>/dev/null; sh -c {shlex.quote(command)}; "
            f"_axis_rc=$?; rm -f {pid_file}; exit $_axis_rc")


def kill_command(token: str) -> str:
    pid_file = _pid_file(token)
    return (f"_axis_g=$(tr -d ' ' < {pid_file} 2>/dev/null); rm -f {pid_file}; "
            f'[ -n "$_axis_g" ] && kill -KILL -- -"$_axis_g"')
