"""The dashboard's routes: the fleet page `/`, a host's page `/host/{name}`, their live fragments
`/ui/fleet` and `/ui/host/{name}` (answered 304 while unchanged), sign-in and the static assets.

Read only: every page is one read of the state DB through `axis.app.fleet_overview`, run in
Starlette's thread pool. Every page and fragment needs a session cookie (`axis.api.dashboard.auth`);
without one the answer is 401 with a sign-in form, which tells nothing of this server (no version,
no state path: as the JSON API's bearer rule, nothing is told without a key). Every answer carries a
CSP that allows only this server's own script and stylesheet (`axis.api.dashboard.browser_guard`),
so even markup that slipped past the escaping could not run.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, quote

from markupsafe import Markup
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from axis.api.dashboard.auth import SESSION_TTL, DashboardAuth, cookie_name
from axis.api.dashboard.browser_guard import SecurityHeaders, from_elsewhere
from axis.api.dashboard.plots import host_plots
from axis.api.dashboard.render import HOST_CONDITIONS, assets, render
from axis.app.context import AppContext, NotFound
from axis.app.fleet_overview import fleet_overview, host_detail

log = logging.getLogger("axis.api.dashboard")

#: The largest sign-in form body read (a token is 43 characters).
MAX_FORM = 4096

Handler = Callable[[Request], Awaitable[Response]]


def is_dashboard_path(path: str) -> bool:
    """Whether `path` is the dashboard's: these check the session cookie themselves, everything
    else keeps the API's bearer token (`axis.api.app.BearerAuth`). `/host/` is the page, `/hosts/`
    the JSON API."""
    return path in ("/", "/login", "/logout") or path.startswith(("/login/", "/host/", "/ui/"))


def _auth(request: Request) -> DashboardAuth:
    return request.app.state.dashboard


def _cookie(request: Request) -> str:
    """The session cookie's name for the port the browser reached this server on (the Host
    header's, else the scheme's default): the port the browser keys its cookies by, which an SSH
    forward or a proxy may make other than the one `axis serve` bound."""
    tls = request.url.scheme == "https"
    try:
        port = request.url.port
    except ValueError:  # a Host header no browser sends (`x:abc`), on a Starlette that does not vet it
        port = None
    return cookie_name(port or (443 if tls else 80), tls=tls)


def _session(request: Request) -> str | None:
    return request.cookies.get(_cookie(request))


def _html(body: str, status: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    """An HTML answer (the security headers come from `SecurityHeaders`); pages are never stored
    (they show the fleet)."""
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store", **(headers or {})})


def _common(request: Request) -> dict[str, Any]:
    """What every page's frame shows: the state DB's path only to a signed-in browser."""
    app: AppContext = request.app.state.axis
    signed_in = _auth(request).valid(_session(request))
    return {"state": str(app.state) if signed_in else "", "conditions": HOST_CONDITIONS, "fragment": None,
            "etag": "", "signed_in": signed_in}


def _sign_in_page(request: Request, message: str = "", status: int = 401) -> HTMLResponse:
    return _html(render("login.html", **_common(request), message=message), status)


def _message(request: Request, status: int, title: str, message: str,
             headers: dict[str, str] | None = None) -> HTMLResponse:
    return _html(render("message.html", **_common(request), title=title, message=message), status, headers)


def _signed_in(handler: Handler) -> Handler:
    """Run `handler` for a request with a live session, else answer 401 with the sign-in form; an
    unknown host is a 404 page, a failure a 500 page whose cause is in the server's log."""

    async def run(request: Request) -> Response:
        if not _auth(request).valid(_session(request)):
            return _sign_in_page(request)
        try:
            return await handler(request)
        except NotFound as exc:
            return _message(request, 404, "Not found", str(exc))
        except Exception as exc:  # noqa: BLE001 - a DB that cannot be read, or a bug: logged, shown as a page
            log.exception("%s %s failed", request.method, request.url.path)
            return _message(request, 500, "Something failed", f"{type(exc).__name__}: the details are in the "
                                                              "server's log")
    return run


def _etag(body: str) -> str:
    """A weak validator (the same sections, gzipped or not, are the same to the page)."""
    return 'W/"' + hashlib.sha256(body.encode()).hexdigest()[:32] + '"'


async def _fleet_context(request: Request) -> dict[str, Any]:
    app: AppContext = request.app.state.axis
    return {"fleet": await run_in_threadpool(fleet_overview, app.db())}


async def _host_context(request: Request) -> dict[str, Any]:
    app: AppContext = request.app.state.axis
    detail = await run_in_threadpool(host_detail, app.db(), request.path_params["name"])
    return {"detail": detail, "plots": host_plots(detail.samples)}


async def _page(request: Request, template: str, sections: str, fragment: str,
                context: dict[str, Any]) -> Response:
    """A full page around its sections (rendered once: the page and the ETag it carries, so that
    the first poll is a 304, are of the same text)."""
    common = {**_common(request), **context}
    drawn = await run_in_threadpool(render, sections, **common)  # autoescaped by its template: safe to insert
    return _html(render(template, **{**common, "sections": Markup(drawn), "fragment": fragment, "etag": _etag(drawn)}))


async def _fragment(request: Request, sections: str, context: dict[str, Any]) -> Response:
    """The sections alone, or 304 when the browser's copy (If-None-Match) is current. Rendered in
    a worker thread as the read is: a few hundred hosts take milliseconds the event loop serves others in."""
    body = await run_in_threadpool(render, sections, **_common(request), **context)
    etag = _etag(body)
    if etag in (t.strip() for t in request.headers.get("if-none-match", "").split(",")):
        return Response(status_code=304, headers={"ETag": etag, "Cache-Control": "no-store"})
    return _html(body, headers={"ETag": etag})


@_signed_in
async def fleet_page(request: Request) -> Response:
    return await _page(request, "fleet.html", "fleet_sections.html", "/ui/fleet", await _fleet_context(request))


@_signed_in
async def fleet_fragment(request: Request) -> Response:
    return await _fragment(request, "fleet_sections.html", await _fleet_context(request))


@_signed_in
async def host_page(request: Request) -> Response:
    url = "/ui/host/" + quote(request.path_params["name"], safe="")
    return await _page(request, "host.html", "host_sections.html", url, await _host_context(request))


@_signed_in
async def host_fragment(request: Request) -> Response:
    return await _fragment(request, "host_sections.html", await _host_context(request))


def _set_session(request: Request, response: Response, session: str) -> Response:
    """`response` with the session cookie: HttpOnly, SameSite=Strict, Secure over TLS."""
    response.set_cookie(_cookie(request), session, max_age=SESSION_TTL, path="/", httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")
    return response


def _refused(request: Request) -> Response:
    return _message(request, 403, "Refused", "Sign-in and sign-out are taken only from this dashboard's own pages.")


async def login_link(request: Request) -> Response:
    """The one-time link: a page that sets the cookie and moves on to `/` by itself (a meta
    refresh; the CSP allows no inline script). Not a redirect: a link clicked on another site's
    page (a chat, a wiki) starts a cross-site navigation, and the browser withholds a Strict
    cookie from every redirect in that chain, so `/` would answer signed out. The refresh is a
    new navigation started by this page, same-site; the code leaves the address bar with it."""
    session = _auth(request).redeem_code(request.path_params["code"])
    if session is None and _auth(request).valid(_session(request)):  # Back to a spent link, signed in
        return RedirectResponse("/", status_code=303)
    if session is None:
        return _sign_in_page(request, "This login link was used already, has expired, or is not one of this "
                                      "server's (a restart of `axis serve` prints a new one).")
    return _set_session(request, _html(render("signed_in.html", **_common(request))), session)


async def login_form(request: Request) -> Response:
    if _auth(request).valid(_session(request)):
        return RedirectResponse("/", status_code=303)
    return _sign_in_page(request, status=200)


async def login_token(request: Request) -> Response:
    """The API token pasted into the form (a form body, never a URL), compared in constant time;
    303 to `/`, so the form is not left to be posted again by a reload."""
    if from_elsewhere(request):
        return _refused(request)
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            return _sign_in_page(request, "That form was too large.", 413)
    given = parse_qs(body.decode("utf-8", "replace")).get("token", [""])[0].strip()
    session = _auth(request).redeem_token(given) if given else None
    if session is None:
        return _sign_in_page(request, "That is not this server's API token.")
    return _set_session(request, RedirectResponse("/", status_code=303, headers={"Cache-Control": "no-store"}),
                        session)


async def logout(request: Request) -> Response:
    if from_elsewhere(request):
        return _refused(request)
    _auth(request).forget(_session(request))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(_cookie(request), path="/", httponly=True, samesite="strict",
                           secure=request.url.scheme == "https")
    return response


async def static(request: Request) -> Response:
    """The stylesheet and the script: no data in them, so no session needed; cached for good,
    their URLs change with their content (`?v=`)."""
    asset = assets().get(request.path_params["file"])
    if asset is None:
        return Response("not found", status_code=404, media_type="text/plain")
    return Response(asset.body, media_type=asset.content_type,
                    headers={"Cache-Control": "public, max-age=31536000, immutable"})


ROUTES = [
    Route("/", fleet_page, methods=["GET"]),
    Route("/ui/fleet", fleet_fragment, methods=["GET"]),
    Route("/host/{name}", host_page, methods=["GET"]),
    Route("/ui/host/{name}", host_fragment, methods=["GET"]),
    Route("/login", login_form, methods=["GET"]),
    Route("/login", login_token, methods=["POST"]),
    Route("/login/{code}", login_link, methods=["GET"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/ui/static/{file}", static, methods=["GET"]),
]


async def _no_page(request: Request, _exc: Exception) -> Response:
    return _message(request, 404, "Not found", f"There is no page at {request.url.path}.")


async def _wrong_method(request: Request, exc: Exception) -> Response:
    """405 as a page of the dashboard's, with the `Allow` header Starlette's routing gives."""
    return _message(request, 405, "Method not allowed", f"{request.method} is not how {request.url.path} is used.",
                    getattr(exc, "headers", None))


def dashboard_app(app: AppContext, auth: DashboardAuth) -> Starlette:
    """The dashboard's ASGI app over `app`'s state DB, signing browsers in with `auth`."""
    # gzip: the fleet page of a few hundred hosts is mostly repeated markup (a tenth of its size
    # compressed); it holds no secret for a compression side channel to guess at.
    web = Starlette(routes=ROUTES, exception_handlers={404: _no_page, 405: _wrong_method},
                    middleware=[Middleware(SecurityHeaders), Middleware(GZipMiddleware, minimum_size=1024)])
    web.state.axis = app
    web.state.dashboard = auth
    return web
