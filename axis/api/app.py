"""The ASGI application of `axis serve`: the endpoint table behind a bearer-token gate."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from axis.api.routes import ENDPOINTS, error
from axis.api.token import token_matches
from axis.cli.context import AppContext


class BearerAuth:
    """Refuse every request without `Authorization: Bearer <token>` (401), before routing and
    before any body is read: /health and /openapi.json included, so that nothing about the
    fleet, not even which axis runs here, is told to a caller without the token."""

    def __init__(self, app: ASGIApp, token: str):
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            header = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"authorization"), None)
            if not token_matches(header, self.token):
                response = JSONResponse({"error": "missing or wrong bearer token"}, status_code=401,
                                        headers={"WWW-Authenticate": 'Bearer realm="axis"'})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def _http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return error(exc.status_code, exc.detail)


def build_app(app: AppContext, token: str) -> ASGIApp:
    """The API over `app`'s state DB and SSH options; every request must carry `token`."""
    web = Starlette(routes=[Route(e.path, e.handler, methods=[e.method]) for e in ENDPOINTS],
                    exception_handlers={HTTPException: _http_error})
    web.state.axis = app
    return BearerAuth(web, token)
