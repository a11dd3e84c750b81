"""The ASGI application of `axis serve`: the endpoint table behind a bearer-token gate."""

from __future__ import annotations

import functools
import logging

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from axis.api.dashboard.auth import DashboardAuth
from axis.api.dashboard.routes import dashboard_app, is_dashboard_path
from axis.api.openapi import Handler
from axis.api.routes import ENDPOINTS, error
from axis.app.token import token_matches
from axis.app.context import AppContext
from axis.state import StateError


class BearerAuth:
    """Refuse every request without `Authorization: Bearer <token>` (401), before routing and
    before any body is read: /health and /openapi.json included, so that nothing about the
    fleet, not even which axis runs here, is told to a caller without the token. The dashboard's
    paths (`is_dashboard_path`) go to the dashboard's own app, which checks a session cookie: a
    browser never holds the token, and a cookie opens nothing of the JSON API."""

    def __init__(self, app: ASGIApp, token: str, dashboard: ASGIApp):
        self.app = app
        self.token = token
        self.dashboard = dashboard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and is_dashboard_path(scope["path"]):
            await self.dashboard(scope, receive, send)
            return
        if scope["type"] != "lifespan":
            header = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"authorization"), None)
            if not token_matches(header, self.token):
                response = JSONResponse({"error": "missing or wrong bearer token"}, status_code=401,
                                        headers={"WWW-Authenticate": 'Bearer realm="axis"'})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


log = logging.getLogger("axis.api")


async def _http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return error(exc.status_code, exc.detail)


def guarded(handler: Handler) -> Handler:
    """Every answer is JSON `{"error": ...}`, even for what no handler expected: a state DB that
    cannot be used (its message names the file and what to do) or an axis bug (its traceback
    goes to the log, its type to the client), never Starlette's text/plain 500."""

    @functools.wraps(handler)
    async def run(request: Request) -> Response:
        try:
            return await handler(request)
        except HTTPException:
            raise  # the handler's own 4xx, answered by _http_error
        except StateError as exc:
            log.error("%s %s: %s", request.method, request.url.path, exc,
                      extra={"method": request.method, "path": request.url.path, "error": str(exc)})
            return error(500, str(exc))
        except Exception as exc:  # noqa: BLE001 - a bug: logged with its traceback, answered as JSON
            log.exception("%s %s failed", request.method, request.url.path,
                          extra={"method": request.method, "path": request.url.path})
            return error(500, f"internal error: {type(exc).__name__} (the traceback is in the server's log)")
    return run


def build_app(app: AppContext, token: str, *, allow_exec: bool = False,
              dashboard: DashboardAuth | None = None) -> ASGIApp:
    """The API over `app`'s state DB and SSH options; every request must carry `token`; only with
    `allow_exec` does `POST /claims/{name}/exec` run commands (`axis serve --allow-exec`). The
    dashboard's pages beside it sign browsers in with `dashboard`'s login codes (a new one, with
    no code issued, when not given) or the token."""
    web = Starlette(routes=[Route(e.path, guarded(e.handler), methods=[e.method]) for e in ENDPOINTS],
                    exception_handlers={HTTPException: _http_error})
    web.state.axis = app
    web.state.allow_exec = allow_exec
    return BearerAuth(web, token, dashboard_app(app, dashboard or DashboardAuth(token)))
