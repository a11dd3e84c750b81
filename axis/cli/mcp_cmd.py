"""`axis mcp serve`: the MCP server on stdio, for an agent's MCP client to start: read-only, or with
`--allow-exec` also able to claim a host and run commands on it; the server is the one the
composition root (`axis.main`) gives this front end."""

from __future__ import annotations

from collections.abc import Callable

import typer

from axis.app.context import AppContext, AppError
from axis.cli.context import app_context

#: Serves the MCP tools on stdio until the client closes them (the acting ones too when told).
McpServer = Callable[[AppContext, bool], None]


def mcp_group(run_server: McpServer) -> typer.Typer:
    """The `mcp` command group, whose `serve` runs `run_server`."""
    app = typer.Typer(no_args_is_help=True, help="Model Context Protocol server for agents.")

    @app.callback()
    def _group() -> None:
        """Model Context Protocol server for agents (read-only unless --allow-exec)."""

    @app.command()
    def serve(
        ctx: typer.Context,
        allow_exec: bool = typer.Option(False, "--allow-exec",
                                        help="also offer create_claim and exec_on_claim: the agent may reserve "
                                             'hosts and run commands on them (each exec must carry confirm "YES"; '
                                             "jobs are capped at their claim's memory)"),
    ) -> None:
        """Serve tools over stdio: list_hosts, get_host, cluster_status, rank_hosts, list_sources
        (read-only); with --allow-exec also create_claim and exec_on_claim.

        Stdout carries the protocol, so this is meant to be started by an MCP client, not by hand."""
        context = app_context(ctx)
        missing = context.state.path is not None and not context.state.path.exists()
        if missing:  # opening would create an empty DB, which no tool could use
            raise AppError(f"no state DB at {context.state}: point --state or AXIS_STATE at one "
                           "(`axis apply` makes it)")
        run_server(context, allow_exec)

    return app
