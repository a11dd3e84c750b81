"""What the dashboard holds every browser exchange to: the security headers on every answer (a
middleware, so that Starlette's own answers, a 405 say, carry them too), and sign-in and sign-out
posts that come from this server's own pages only.

Why the posts: a SameSite=Strict cookie is not sent on another site's request, but a response to
one may still set or delete it. A form on any page could post to `/logout` and the answer's
deletion would sign the user out; it could post a token to `/login` and sign the browser in
as someone else. The browser says where a request comes from in headers no page can forge:
`Sec-Fetch-Site` (every current browser) and `Origin`.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Headers on every dashboard answer: nothing but this server's own files may load or run, the
#: page is never framed, and no URL of it leaks in a Referer.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
#: The `Sec-Fetch-Site` values of a request this server's own page made (`same-origin`) or the
#: user made by hand (`none`: typed, bookmarked). `same-site` is refused too: another port of
#: the same host is the same site, and any local service may serve a page there.
OWN_SITES = ("same-origin", "none")


class SecurityHeaders:
    """ASGI middleware adding SECURITY_HEADERS to every answer of the app it wraps (a handler's
    own value of one of them wins)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def from_elsewhere(request: Request) -> bool:
    """Whether a form post came from some other page than this server's own: `Sec-Fetch-Site`
    other than OWN_SITES, or an `Origin` other than this server's. `Origin: null` passes only with
    `Sec-Fetch-Site: same-origin`: it is what a browser sends on a post from our own page, whose
    `Referrer-Policy: no-referrer` withholds the origin (the Fetch standard), but a sandboxed
    frame anywhere sends it too. A client that sends neither header (curl, a script) is no
    browser a page could have driven."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in OWN_SITES:
        return True
    origin = request.headers.get("origin")
    if origin is None:
        return False
    if origin == "null":
        return site != "same-origin"
    return origin.lower() != own_origin(request)


def own_origin(request: Request) -> str:
    """This server's origin as the browser reached it: scheme://host[:port] of the request (the
    Host header, which only the client itself sets), lower-cased as browsers serialise it."""
    return f"{request.url.scheme}://{request.url.netloc}".lower()
