"""Running git: one child process per command, never a shell, always under a deadline.

Every git command a source runs goes through `run_git`, so the rules hold in one place: the
environment is git's alone (inherited ``GIT_*`` variables dropped, system config off, no
terminal prompts, C locale so messages read the same everywhere, only file/ssh/http(s)
transports), hooks are off, and a command past its deadline or cancelled is killed with its
whole process group (git's ssh or https helper included), so a hung remote never outlives the call.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

#: What git may reach: no ``ext::`` (runs a command) or other transport a URL could name.
ALLOWED_PROTOCOLS = "file:ssh:https:http"
#: Config for every command: hooks never run (a mirror is fed by strangers' commits), and
#: automatic gc runs inside the command's deadline rather than as a detached process.
BASE_CONFIG = ("core.hooksPath=/dev/null", "gc.autoDetach=false")
#: A git message is cut to this many characters: it lands in one status line.
MESSAGE_LIMIT = 400

Scrub = Callable[[str], str]


class GitResult(NamedTuple):
    """A git command that ended with an accepted exit code."""

    code: int
    stdout: bytes
    stderr: bytes


class GitError(Exception):
    """A git step failed, with the source condition's reason for it.

    ``reason`` is "FetchFailed" (remote, network, transport, the ref), "VerificationFailed"
    (the commit's signature) or "SpecInvalid" (what the commit holds); ``str(exc)`` is one
    line with credentials already scrubbed, fit for logs, events and status.
    """

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def git_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a git child: ours, less git's own variables, plus the fixed rules.

    HOME stays (the user's ~/.gitconfig and ~/.ssh apply, as for their own git); a GIT_DIR or
    GIT_INDEX_FILE left by a hook that started axis would send commands to another repository.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(LC_ALL="C", GIT_TERMINAL_PROMPT="0", GIT_CONFIG_NOSYSTEM="1",
               GIT_ALLOW_PROTOCOL=ALLOWED_PROTOCOLS)
    env.update(extra or {})
    return env


def one_line(text: str) -> str:
    """git's stderr as one status line: its non-empty lines joined, hints dropped, cut to size."""
    lines = [ln.strip() for ln in text.splitlines()]
    kept = [ln for ln in lines if ln and not ln.startswith("hint:")]
    line = "; ".join(kept)
    return line if len(line) <= MESSAGE_LIMIT else line[:MESSAGE_LIMIT - 1] + "…"


async def run_git(args: Sequence[str], *, env: Mapping[str, str], timeout: float, what: str,
                  scrub: Scrub = str, stdin: bytes | None = None,
                  ok_codes: tuple[int, ...] = (0,)) -> GitResult:
    """Run ``git <args>``; return its exit code and output when the code is in ``ok_codes``.

    Any other exit code, a timeout or a git that cannot start raises `GitError("FetchFailed")` whose
    message starts with ``what`` and carries git's stderr through ``scrub``.
    """
    argv = ["git"]
    for setting in BASE_CONFIG:
        argv += ["-c", setting]
    argv += list(args)
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, env=dict(env), start_new_session=True,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    except OSError as exc:
        raise GitError("FetchFailed", scrub(f"{what}: cannot run git: {exc}")) from exc
    try:
        stdout, stderr = await asyncio.wait_for(proc.communicate(stdin), timeout)
    except TimeoutError:
        await _kill_group(proc)
        raise GitError("FetchFailed", scrub(f"{what}: timed out after {timeout:g}s")) from None
    except BaseException:
        await _kill_group(proc)
        raise
    code = proc.returncode
    assert code is not None
    if code not in ok_codes:
        detail = one_line(stderr.decode("utf-8", errors="replace")) or f"git exited with {code}"
        raise GitError("FetchFailed", scrub(f"{what}: {detail}"))
    return GitResult(code, stdout, stderr)


async def _kill_group(proc: asyncio.subprocess.Process) -> None:
    """SIGKILL git and everything it started (ssh, git-remote-https) and reap git."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    await proc.wait()
