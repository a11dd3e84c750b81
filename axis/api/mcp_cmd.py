"""`axis mcp serve`: the read-only MCP server on stdio, for an agent's MCP client to start."""

from __future__ import annotations

import typer

from axis.cli.context import CliError, app_context

app = typer.Typer(no_args_is_help=True, help="Model Context Protocol server for agents (read-only).")


@app.callback()
def _group() -> None:
    """Model Context Protocol server for agents (read-only)."""


@app.command()
def serve(ctx: typer.Context) -> None:
    """Serve read-only tools over stdio: list_hosts, get_host, cluster_status, rank_hosts.

    Stdout carries the protocol, so this is meant to be started by an MCP client, not by hand."""
    state = app_context(ctx).state
    if not state.exists():  # opening would create an empty DB: a read-only server must not
        raise CliError(f"no state DB at {state}: point --state or AXIS_STATE at one (`axis apply` makes it)")
    from axis.api.mcp_server import build_server  # deferred: the SDK takes most of a second to import

    build_server(app_context(ctx).db()).run("stdio")
