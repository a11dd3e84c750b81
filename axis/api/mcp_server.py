"""The MCP server behind `axis mcp serve`: five read-only tools over the state DB, and with
`--allow-exec` two that act (`axis.api.mcp_exec_tools`: create a claim, run a command on it).

An agent gets what a person gets from `axis get hosts`, `axis get host NAME`, `axis status
--cached`, `axis place` and `axis get sources` — the same documents, from `axis.app.queries` —
and no way to change anything: no tool writes, none talks to a host, none takes a lease
(`rank_hosts` is advisory), and the server offers no resources or prompts that could. Every tool says so to the client with
`readOnlyHint` (on the wire), so clients that ask before acting can skip asking. Without
`--allow-exec` the acting tools are not registered at all: the server stays what it was.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations

from axis import __version__
from axis.api.mcp_exec_tools import INSTRUCTIONS as EXEC_INSTRUCTIONS
from axis.api.mcp_exec_tools import add_exec_tools
from axis.app import queries
from axis.app.context import AppContext, AppError
from axis.specs import Kind

INSTRUCTIONS = """axis manages a fleet of machines reached over SSH. Use list_hosts for the fleet,
get_host for one machine's facts (OS, CPU, memory, GPU, disk, tools) and status, cluster_status
for totals, rank_hosts to pick a machine for a task before running it there, and list_sources
for the git branches the fleet follows (which commit is applied, why one is not), list_controllers
for the controllers sharing the fleet (which one reconciles which host). Facts are as
of the last observation (see observedAt/factsAt)."""

READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)


def build_server(app: AppContext, *, allow_exec: bool = False) -> MCPServer:
    """The read-only tools over `app`'s state DB, and with `allow_exec` the two that act."""
    db = app.db()
    instructions = (f"{INSTRUCTIONS}\n\n{EXEC_INSTRUCTIONS}" if allow_exec
                    else f"{INSTRUCTIONS} All tools are read-only.")
    server = MCPServer(name="axis", version=__version__, instructions=instructions, log_level="WARNING")

    @server.tool(annotations=READ_ONLY)
    def list_hosts() -> dict[str, Any]:
        """Every host axis manages: address, labels, effective features, and its latest observation
        (status, age, a summary of load, RAM, GPU and disk), as `axis get hosts -o json`."""
        return _answer(queries.object_list, db, Kind.HOST)

    @server.tool(annotations=READ_ONLY)
    def get_host(name: str) -> dict[str, Any]:
        """One host by name: its spec, status (observation, feature states, conditions) and the
        full facts of its newest observation (OS, CPU, memory, GPUs, disk, tools)."""
        return _answer(queries.object_one, db, Kind.HOST, name)

    @server.tool(annotations=READ_ONLY)
    def cluster_status() -> dict[str, Any]:
        """Every host's latest observation and the cluster totals (hosts reachable, cores,
        memory total and available, GPUs), from stored facts, as `axis status --cached -o json`."""
        return _answer(queries.cluster_status, db)

    @server.tool(annotations=READ_ONLY)
    def rank_hosts(task: str) -> dict[str, Any]:
        """Rank the hosts for a task described in words, e.g. "run ollama inference on a 7b model":
        what it needs (inferred tools, memory, GPU), the best host, each eligible host's fit score
        with its terms, and why every other host was rejected; best is null when no host fits (where
        `axis place` exits 3). Advisory: no capacity is reserved."""
        return _answer(queries.placement, db, task)

    @server.tool(annotations=READ_ONLY)
    def list_sources() -> dict[str, Any]:
        """Every git source the controller follows: URL, ref, the revision last attempted and the
        one applied (`main@sha1:…`), conditions Ready/Stalled/Reconciling with their reasons
        (e.g. SpecInvalid with file:line) and the last attempts, as `axis get sources -o json`."""
        return _answer(queries.source_list, db)

    @server.tool(annotations=READ_ONLY)
    def list_controllers() -> dict[str, Any]:
        """The controllers sharing the state DB: each one's machine and pid, state (Live, Stale:
        no heartbeat within its lease, or Stopped), last heartbeat, the hosts it reconciles now and
        whether it leads (applies specs, binds claims), as `axis get controllers -o json`."""
        return _answer(queries.controllers, db)

    if allow_exec:
        add_exec_tools(server, app)
    return server


def _answer(read: Callable[..., Mapping[str, Any]], *args: Any) -> dict[str, Any]:
    """A read's document, or a ToolError whose message reaches the agent (a plain exception's
    text is withheld by the SDK, which would leave the agent guessing)."""
    try:
        return dict(read(*args))
    except AppError as exc:  # NotFound, or a task that is no valid claim task
        raise ToolError(str(exc)) from exc


def serve_stdio(app: AppContext, allow_exec: bool) -> None:
    """Serve the tools (with `allow_exec`, the acting ones too) on stdin/stdout until the client
    closes them."""
    build_server(app, allow_exec=allow_exec).run("stdio")
