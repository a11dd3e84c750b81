"""The two tools `axis mcp serve --allow-exec` adds to the read-only ones: `create_claim` and
`exec_on_claim`, over `axis.app.guarded_exec` (the same operations as `axis apply` of a claim and
`axis exec`, with an agent's guards: confirm "YES", memory always checked, job always capped).

Both operations block (SSH, the apply lock), so each call runs in a worker thread: the server
keeps answering the client (pings, cancellations) while a command runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations

from axis.app.context import AppContext, AppError
from axis.app.guarded_exec import CONFIRM, OUTPUT_TAIL, ConnectionLost, create_claim, exec_confirmed
from axis.drivers.transport import TransportError
from axis.hostcmd.claim_exec import ExecRefused
from axis.specs import SpecErrors

#: Where claims created through MCP say they came from (`metadata.source`, `axis get claims`).
MCP_SOURCE = "<mcp>"

CLAIMS = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False)
EXEC = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=True)

INSTRUCTIONS = f"""To run a command on a machine: create_claim with the task in words (and requires:
memory, tools, gpu, os) reserves memory on the best host that fits; exec_on_claim runs one shell
line there, capped at the claim's memory, and must carry confirm "{CONFIRM}". A job that uses more
memory than its claim is killed (exitCode 137, oomKilled true): claim more, do not retry as is."""

EXEC_DESCRIPTION = f"""Run one shell line on the host a Bound claim holds, as `axis exec CLAIM -- LINE`:
refused unless confirm is "{CONFIRM}"; refused before it starts when the claim holds no live lease
or the host has less memory available than the claim. The job is capped at the claim's memory and
the lease is renewed while it runs. Answers exitCode, oomKilled (killed for using more memory than
claimed), message, enforcement (what capped the job: cgroup or watchdog, with the reason), and
output: the last {OUTPUT_TAIL:,} characters of stdout and stderr interleaved (outputTruncated
counts the characters left off before them)."""


def add_exec_tools(server: MCPServer, app: AppContext) -> None:
    """Register `create_claim` and `exec_on_claim` on `server`, acting on `app`."""

    @server.tool(name="create_claim", annotations=CLAIMS)
    async def create(task: str, name: str | None = None, requires: dict[str, Any] | None = None,
                     ttl: str | None = None) -> dict[str, Any]:
        """Reserve a host for a task, as `axis apply` of a Claim does: `task` says in words what will
        run (requirements are inferred from it, e.g. "7b" needs 1.5Gi); `requires` overrides them
        with any of memory (e.g. "4Gi"), tools (list of commands), gpu (bool), os ("linux" or
        "macos"), enforcement ("cgroup": only hosts whose kernel caps memory; default "any");
        `ttl` is how long the lease lasts unused (e.g. "30m", default 45m; exec_on_claim renews
        it). `name` (a DNS label) defaults to agent-<8 hex>; an existing claim is never replaced. Answers the claim as `axis get claim NAME -o json`: status.phase Bound with
        status.host, or Pending with status.reason saying why no host fits."""
        return await _call(lambda: dict(create_claim(app, task=task, name=name, requires=requires, ttl=ttl,
                                                     source=MCP_SOURCE)))

    @server.tool(name="exec_on_claim", description=EXEC_DESCRIPTION, annotations=EXEC)
    async def exec_(claim: str, command: str, confirm: str = "") -> dict[str, Any]:
        """The tool's description is EXEC_DESCRIPTION (it names the constants it depends on)."""
        return await _call(lambda: dict(exec_confirmed(app, claim, command, confirm)))


async def _call(work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run `work` in a worker thread; every refusal becomes a ToolError whose message reaches the
    agent (the SDK withholds a plain exception's text)."""
    try:
        return await anyio.to_thread.run_sync(work)
    except ConnectionLost as exc:
        raise ToolError(f"{exc}\n--- output so far ---\n{exc.output}") from exc
    except SpecErrors as exc:
        raise ToolError("; ".join(str(e) for e in exc.errors) + "; nothing was stored") from exc
    except ExecRefused as exc:
        raise ToolError(f"not started: {exc}") from exc
    except TransportError as exc:
        raise ToolError(f"not started: {exc}") from exc
    except AppError as exc:  # NotConfirmed, NotFound, an empty command, a name that is taken
        raise ToolError(str(exc)) from exc
