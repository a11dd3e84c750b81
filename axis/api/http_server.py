"""The HTTP server behind `axis serve`: the local API on uvicorn, loopback only unless asked, behind
a bearer token, and beside it the read-only dashboard (`axis.api.dashboard`), which a browser
signs in to with the one-time link printed on stdout.

A non-loopback listener also needs TLS (`--tls-cert/--tls-key`) unless `--insecure-http` says
plain HTTP is meant: the token travels with every request (see `axis.api.tls`). Whether a listener
is loopback is decided from the address the socket actually bound, after binding and before it
listens: a name such as `localhost` is resolved by the system (a hosts file may map it anywhere),
so only an IP literal can be judged before binding.

Starlette and uvicorn are imported when the server starts, not when the CLI starts, so that
`axis get` and friends do not pay for a web stack they never use (nor for this module: the
composition root, `axis.main`, imports it only when `axis serve` runs).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from axis.api.tls import TlsFiles, refuse_clear_text, tls_files
from axis.app.token import TokenError, default_token_path, ensure_token
from axis.app.context import AppContext, AppError
from axis.app.controller_start import exit_status, make_controller, run_controller, stop_on_signals
from axis.app.log_output import LogFormat
from axis.app.serve_options import DEFAULT_LISTEN, ServeOptions
from axis.reconcile.controller import Controller

if TYPE_CHECKING:
    from axis.api.dashboard.auth import DashboardAuth

logger = logging.getLogger(__name__)


def serve_http(app: AppContext, options: ServeOptions) -> int:
    """Serve the local HTTP API (and with `options.watch` the controller loop) until SIGTERM or
    SIGINT; the exit status (`_serve`). AppError, before anything listens, for a listener that is
    refused or cannot be made."""
    host, port = parse_listen(options.listen)
    tls = tls_files(options.tls_cert, options.tls_key)
    # An IP literal is refused before anything is made; the bound address decides in the end.
    _refuse_remote(options.listen, loopback=is_loopback(host), allow_remote=options.allow_remote, tls=tls,
                   insecure_http=options.insecure_http)
    path = options.token_file or default_token_path(app.state)
    with contextlib.ExitStack() as stack:
        sock = stack.enter_context(_bind(host, port))
        loopback = bound_loopback(sock)
        _refuse_remote(options.listen, loopback=loopback, allow_remote=options.allow_remote, tls=tls,
                       insecure_http=options.insecure_http)
        try:
            token = ensure_token(path)
        except TokenError as exc:
            raise AppError(str(exc)) from exc
        loop = (make_controller(app, options.watch, options.resync, options.jobs, stack)
                if options.watch else None)
        _listen(sock, host, port)
        shown = f"[{host}]" if ":" in host else host
        scheme = "https" if tls else "http"
        url = f"{scheme}://{shown}:{sock.getsockname()[1]}"
        logger.info("axis API listening on %s (bearer token in %s); dashboard at %s/ (one-time login link on "
                    "stdout)", url, path, url,
                    extra={"url": url, "token_file": str(path), "tls": tls is not None, "dashboard": f"{url}/"})
        dashboard = _dashboard_link(token, url)
        if options.allow_exec:
            logger.warning("exec is on (--allow-exec): a holder of the token can run commands on claims' hosts "
                           "through POST /claims/{name}/exec")
        if tls is None and not loopback:
            logger.warning("warning: plain HTTP off loopback (--insecure-http): "
                           "the bearer token crosses the network readable")
        server = _server(app, token, tls, options.log_format, options.allow_exec, dashboard)
        return asyncio.run(_serve(app, server, sock, loop))


def _refuse_remote(listen: str, *, loopback: bool, allow_remote: bool, tls: TlsFiles | None,
                   insecure_http: bool) -> None:
    """AppError unless the listener is loopback, or allowed off it (--allow-remote) over TLS or
    knowingly plain HTTP (--insecure-http)."""
    if not allow_remote and not loopback:
        raise AppError(f"refusing to listen on {listen}: not a loopback address, so other machines could reach "
                       f"an API that changes every host; pass --allow-remote if that is what you want")
    refuse_clear_text(listen, loopback=loopback, tls=tls, insecure_http=insecure_http)


def _dashboard_link(token: str, url: str) -> DashboardAuth:
    """The dashboard's sign-in, with a one-time login link printed on stdout (`dashboard: URL`),
    the only place its code goes: the log (stderr, often kept) says where the dashboard is."""
    from axis.api.dashboard.auth import DashboardAuth

    dashboard = DashboardAuth(token)
    print(f"dashboard: {url}/login/{dashboard.issue_code()}", flush=True)
    return dashboard


def _server(app: AppContext, token: str, tls: TlsFiles | None, log_format: LogFormat, allow_exec: bool,
            dashboard: DashboardAuth) -> Any:
    """A uvicorn server for the API, over TLS when `tls` is given; Starlette and uvicorn are
    imported only now (module docstring). In JSON, uvicorn leaves its loggers as they are, which
    `axis.app.log_output` has sent to stderr as JSON lines; otherwise it logs in its own format."""
    import uvicorn

    from axis.api.app import build_app

    class Server(uvicorn.Server):
        """uvicorn minus its signal handling, which re-raises SIGINT/SIGTERM after its own shutdown
        and would so kill the controller loop mid-step: `_serve` takes the signals for both."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    logs: dict[str, Any] = {"log_config": None} if log_format is LogFormat.json else {}
    return Server(uvicorn.Config(build_app(app, token, allow_exec=allow_exec, dashboard=dashboard), log_level="warning", access_log=False, lifespan="off",
                                 ssl_certfile=str(tls.cert) if tls else None,
                                 ssl_keyfile=str(tls.key) if tls else None, **logs))


async def _serve(app: AppContext, server: Any, sock: socket.socket, loop: Controller | None) -> int:
    """Run the API (and the loop, with its local socket) until a signal; the exit status: 130 when a second signal cut
    the wait short, 1 when a part of the loop was failing then (as `axis controller`), else 0."""
    stop = asyncio.Event()

    def first() -> None:
        logger.info("signal received: stopping%s", " (the loop finishes its steps in flight)" if loop else "")
        server.should_exit = True

    def second() -> None:  # stop waiting for open requests and steps in flight
        server.force_exit = True

    async def http() -> None:
        try:
            await server.serve(sockets=[sock])
        finally:
            stop.set()  # the server is gone (or never started): stop the loop too

    stop_on_signals(stop, first=first, second=second)
    try:
        _, *looped = await asyncio.gather(http(), *([run_controller(app, loop, stop)] if loop else []))
    except asyncio.CancelledError:
        return 130
    return exit_status(looped[0] if looped else [])


def parse_listen(text: str) -> tuple[str, int]:
    """`HOST:PORT` or `[IPV6]:PORT` → (host, port); port 0 picks a free one."""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or int(port) > 65535:
        raise AppError(f"--listen {text!r}: expected HOST:PORT, e.g. {DEFAULT_LISTEN} or [::1]:42425")
    return host, int(port)


def is_loopback(host: str) -> bool:
    """Before binding: an IP in 127.0.0.0/8 or ::1 (IPv4-mapped too), or `localhost`, which is
    only presumed loopback here: `bound_loopback` checks what it resolved to. Any other name
    counts as remote: what it resolves to is not ours to vouch for."""
    return host.lower() == "localhost" or address_is_loopback(host)


def address_is_loopback(address: str) -> bool:
    """An IP address in 127.0.0.0/8 or ::1, also written IPv4-mapped (`::ffff:127.0.0.1`) or with
    an IPv6 zone (`::1%lo`); anything that is not an IP address is not loopback."""
    try:
        ip = ipaddress.ip_address(address.partition("%")[0])
    except ValueError:
        return False
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return (mapped or ip).is_loopback


def bound_loopback(*socks: socket.socket) -> bool:
    """Every socket is bound to a loopback address (what the system resolved, not the name given)."""
    return all(address_is_loopback(str(sock.getsockname()[0])) for sock in socks)


@contextlib.contextmanager
def _bind(host: str, port: int) -> Iterator[socket.socket]:
    """Bind, but do not listen yet, before uvicorn starts: the address is taken (or refused) with
    one clear error, the port actually bound is known even for port 0, and the bound address can
    be checked (`bound_loopback`) before any connection is accepted. Closed on leaving."""
    try:
        family, kind, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                          flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise AppError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
    except OSError as exc:
        sock.close()
        raise AppError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    with sock:
        yield sock


def _listen(sock: socket.socket, host: str, port: int) -> None:
    try:
        sock.listen(128)
    except OSError as exc:
        raise AppError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
