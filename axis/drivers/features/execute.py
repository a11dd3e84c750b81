"""Running a feature's planned steps on a host: the only place a feature touches the host.

Steps run in order, as root (the transport applies the host's sudo rule) unless a command says
otherwise (Homebrew refuses root). A file step or a
command that fails stops the feature with the host's message; a *live* step that fails is
recorded as refused (a namespaced kernel says no to swapon or sysctl) and the remaining steps
still run, so the files stay converged. Failures that are not the step's own (host gone, sudo
asks for a password) propagate: the whole host fails with that reason.
"""

from __future__ import annotations

import asyncio
import shlex
from dataclasses import dataclass
from typing import Literal

from axis.drivers.features.base import Command, RemoveFile, Step, WriteFile
from axis.drivers.transport import ErrorKind, Transport, TransportError

#: Seconds one step may take: a package install over a slow mirror is the slowest we run.
STEP_TIMEOUT = 600.0


@dataclass(frozen=True)
class StepResult:
    step: Step
    status: Literal["done", "refused", "failed"]
    message: str = ""


async def run_steps(transport: Transport, steps: list[Step], *, timeout: float = STEP_TIMEOUT,
                    stop: asyncio.Event | None = None) -> list[StepResult]:
    """Run the steps in order; with `stop` set (shutdown), no further step starts."""
    results: list[StepResult] = []
    for step in steps:
        if stop is not None and stop.is_set():
            break
        try:
            await _run(transport, step, timeout)
        except TransportError as exc:
            if exc.kind is not ErrorKind.COMMAND_FAILED:
                raise
            if step.live:
                results.append(StepResult(step, "refused", exc.host_message))
                continue
            results.append(StepResult(step, "failed", exc.host_message))
            break
        results.append(StepResult(step, "done"))
    return results


async def _run(transport: Transport, step: Step, timeout: float) -> None:
    action = step.action
    if isinstance(action, WriteFile):
        await transport.put(action.path, action.content, mode=action.mode, sudo=True, expect=action.expect)
    elif isinstance(action, RemoveFile):
        await transport.run(f"rm -f -- {shlex.quote(action.path)}", sudo=True, check=True, timeout=timeout)
    elif isinstance(action, Command):
        await transport.run(action.command, sudo=action.as_root, check=True, timeout=timeout)
    else:  # pragma: no cover - Action is a closed union
        raise TypeError(f"unknown step action {action!r}")
