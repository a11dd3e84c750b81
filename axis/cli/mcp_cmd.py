"""`axis mcp serve`: the read-only MCP server on stdio, for an agent's MCP client to start; the
server is the one the composition root (`axis.main`) gives this front end."""

from __future__ import annotations

from collections.abc import Callable

import typer

from axis.app.context import AppContext, AppError
from axis.cli.context import app_context

#: Serves the MCP tools on stdio until the client closes them.
McpServer = Callable[[AppContext], None]


def mcp_group(run_server: McpServer) -> typer.Typer:
    """The `mcp` command group, whose `serve` runs `run_server`."""
    app = typer.Typer(no_args_is_help=True, help="Model Context Protocol server for agents (read-only).")

    @app.callback()
    def _group() -> None:
        """Model Context Protocol server for agents (read-only)."""

    @app.command()
    def serve(ctx: typer.Context) -> None:
        """Serve read-only tools over stdio: list_hosts, get_host, cluster_status, rank_hosts.

        Stdout carries the protocol, so this is meant to be started by an MCP client, not by hand."""
        context = app_context(ctx)
        if not context.state.exists():  # opening would create an empty DB: a read-only server must not
            raise AppError(f"no state DB at {context.state}: point --state or AXIS_STATE at one "
                           "(`axis apply` makes it)")
        run_server(context)

    return app
