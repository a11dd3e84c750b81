"""The composition root: the `axis` console script and `python -m axis`.

It builds the command line (`axis.cli`) and hands it the servers that `axis serve` and `axis mcp
serve` run (`axis.api`), so that the two front ends stay independent peers over `axis.app`. Each
server is imported only when its command runs: the web stack and the MCP SDK take most of a
second to import, which no other command should pay.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from axis.cli.main import Servers
from axis.cli.main import run as run_cli

if TYPE_CHECKING:
    from axis.app.context import AppContext
    from axis.app.serve_options import ServeOptions
    from axis.drivers.connector import Connector


def serve_http(app: AppContext, options: ServeOptions) -> int:
    from axis.api.http_server import serve_http as serve

    return serve(app, options)


def serve_mcp(app: AppContext, allow_exec: bool) -> None:
    from axis.api.mcp_server import serve_stdio

    serve_stdio(app, allow_exec)


SERVERS = Servers(http=serve_http, mcp=serve_mcp)


def run(argv: list[str] | None = None, connector: Connector | None = None) -> int:
    """Run one command line (`sys.argv` by default) with every command; its exit status. A
    `connector` reaches the hosts instead of SSH (the in-process test runner's fake hosts)."""
    return run_cli(argv, SERVERS, connector)


def main() -> None:
    sys.exit(run())
