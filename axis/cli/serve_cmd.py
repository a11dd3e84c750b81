"""`axis serve`: the command's options, handed to the HTTP server that the composition root
(`axis.main`) gives this front end; the CLI itself never imports the API."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer

from axis.app.context import AppContext
from axis.app.log_output import LogFormat, log_to_stderr
from axis.app.serve_options import DEFAULT_LISTEN, ServeOptions
from axis.cli.context import app_context

#: Runs the HTTP API until it is stopped; its exit status.
HttpServer = Callable[[AppContext, ServeOptions], int]


def serve_command(run_server: HttpServer) -> Callable[..., None]:
    """The `serve` command, running `run_server`."""

    def serve(
        ctx: typer.Context,
        listen: str = typer.Option(DEFAULT_LISTEN, "--listen", help="HOST:PORT to listen on ([::1]:PORT for IPv6)"),
        allow_remote: bool = typer.Option(False, "--allow-remote",
                                          help="allow a non-loopback listen address (the API can change every host); "
                                               "it needs --tls-cert/--tls-key or --insecure-http"),
        tls_cert: Path | None = typer.Option(None, "--tls-cert", help="serve HTTPS with this PEM certificate chain "
                                                                        "(with --tls-key)"),
        tls_key: Path | None = typer.Option(None, "--tls-key", help="the certificate's PEM private key, unencrypted"),
        insecure_http: bool = typer.Option(False, "--insecure-http",
                                           help="allow plain HTTP on a non-loopback address (the bearer token "
                                                "crosses the network readable)"),
        token_file: Path | None = typer.Option(None, "--token-file",
                                               help="bearer token file, created 0600 on first start (default: <state>.token)"),
        allow_exec: bool = typer.Option(False, "--allow-exec",
                                        help="let POST /claims/{name}/exec run commands on a claim's host, as "
                                             '`axis exec` (each request must carry confirm "YES")'),
        watch: Path | None = typer.Option(None, "--watch", "-w",
                                          help="also run the controller loop on this spec directory, as `axis controller`"),
        resync: str = typer.Option("60s", "--resync", help="with --watch: re-observe every host this often"),
        jobs: int = typer.Option(16, "--jobs", "-j", min=1, help="with --watch: hosts reconciled at once"),
        log_format: LogFormat = typer.Option(LogFormat.human, "--log-format",
                                             help="log lines: human (timestamped text) or json (one object per "
                                                  "line, the loop's with --watch too)"),
    ) -> None:
        """Serve the local HTTP API (loopback only by default, bearer token on every request; HTTPS
        with --tls-cert/--tls-key, required off loopback unless --insecure-http).

        Read hosts, facts, claims, leases, events and status; apply a YAML body; renew or release a claim; with --allow-exec, run a command on a claim's host.

        A read-only dashboard of the fleet at /, live: open the one-time `dashboard:` link it prints on stdout.

        SIGTERM/SIGINT stop it cleanly (with --watch, the loop's steps in flight finish)."""
        app = app_context(ctx)
        log_to_stderr(log_format, debug=app.debug)
        options = ServeOptions(listen=listen, allow_remote=allow_remote, tls_cert=tls_cert, tls_key=tls_key,
                               insecure_http=insecure_http, token_file=token_file, allow_exec=allow_exec, watch=watch, resync=resync,
                               jobs=jobs, log_format=log_format)
        code = run_server(app, options)
        if code:
            raise typer.Exit(code)

    return serve
