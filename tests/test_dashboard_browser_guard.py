"""What every dashboard answer is held to in a browser (axis.api.dashboard.browser_guard): the
security headers on each one, Starlette's own 405 included, and sign-in and sign-out posts taken
only from the dashboard's own pages (a form on any other site could otherwise sign the user out:
the answer's cookie deletion applies even though a Strict cookie was not sent)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from starlette.testclient import TestClient

from axis.api.app import build_app
from axis.api.dashboard.auth import DashboardAuth
from axis.app.context import AppContext
from tests.claimkit import host, store
from tests.conftest import API_TOKEN
from tests.factskit import golden_facts

COOKIE = "axis_session_80"  # TestClient's http://testserver


@pytest.fixture
def auth() -> DashboardAuth:
    return DashboardAuth(API_TOKEN)


@pytest.fixture
def browser(app: AppContext, auth: DashboardAuth) -> Iterator[TestClient]:
    """A browser without a session on one host's fleet."""
    store(app.db(), [host("a")], {"a": golden_facts("debian12")}, now=time.time())
    with TestClient(build_app(app, API_TOKEN, dashboard=auth)) as c:
        yield c


def _secured(r: httpx.Response) -> None:
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp, r
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY", r
    assert r.headers["referrer-policy"] == "no-referrer", r


def test_every_answer_carries_the_security_headers(browser: TestClient, auth: DashboardAuth) -> None:
    pages = [browser.get("/"), browser.get("/login/spent", follow_redirects=False), browser.post("/"),
             browser.post("/logout", headers={"Origin": "http://elsewhere.example"})]
    pages.append(browser.get(f"/login/{auth.issue_code()}"))
    pages += [browser.get("/"), browser.get("/ui/fleet"), browser.get("/host/a"), browser.get("/host/zz"),
              browser.put("/ui/fleet"), browser.get("/ui/whatever")]
    assert [r.status_code for r in pages] == [401, 401, 405, 403, 200, 200, 200, 200, 404, 405, 404]
    for r in pages:
        _secured(r)
        assert r.headers["cache-control"] == "no-store", r  # the fleet is never kept in a cache
    etag = pages[6].headers["etag"]
    others = [browser.get("/ui/fleet", headers={"If-None-Match": etag}), browser.get("/ui/static/dashboard.js"),
              browser.get("/ui/static/nothing.js"), browser.post("/logout", follow_redirects=False)]
    assert [r.status_code for r in others] == [304, 200, 404, 303]
    for r in others:
        _secured(r)


def test_a_wrong_method_is_a_dashboard_page(browser: TestClient) -> None:
    """Starlette answers a known path's wrong method itself; as the dashboard's own page."""
    for method, path, allow in (("POST", "/", {"GET", "HEAD"}), ("DELETE", "/logout", {"POST"}),
                                ("PUT", "/host/a", {"GET", "HEAD"})):
        r = browser.request(method, path)
        assert r.status_code == 405 and r.headers["content-type"].startswith("text/html"), (method, path)
        assert set(r.headers["allow"].split(", ")) == allow and "<h1>Method not allowed</h1>" in r.text, r.text
        _secured(r)


#: (headers, allowed): where a browser says a sign-in or sign-out post came from.
SOURCES = [
    ({}, True),  # no browser said anything: curl, a script; no page could have made it
    ({"Sec-Fetch-Site": "same-origin"}, True),
    ({"Sec-Fetch-Site": "none"}, True),  # the user's own doing (typed, bookmarked)
    ({"Origin": "http://testserver"}, True),
    ({"Origin": "null", "Sec-Fetch-Site": "same-origin"}, True),  # our form under Referrer-Policy: no-referrer
    ({"Sec-Fetch-Site": "cross-site"}, False),
    ({"Sec-Fetch-Site": "same-site"}, False),  # another port of this host: any local service's page
    ({"Origin": "http://elsewhere.example"}, False),
    ({"Origin": "http://testserver:8080"}, False),  # same host, another port: another origin
    ({"Origin": "https://testserver"}, False),
    ({"Origin": "null"}, False),  # a sandboxed frame anywhere
    ({"Origin": "null", "Sec-Fetch-Site": "cross-site"}, False),
    ({"Origin": "http://elsewhere.example", "Sec-Fetch-Site": "same-origin"}, False),
]


@pytest.mark.parametrize(("headers", "allowed"), SOURCES, ids=[" ".join(h.values()) or "none-given" for h, _ in SOURCES])
def test_sign_in_and_out_are_taken_only_from_the_dashboards_own_pages(browser: TestClient, auth: DashboardAuth,
                                                                       headers: dict[str, str], allowed: bool) -> None:
    signed_in = browser.post("/login", data={"token": API_TOKEN}, headers=headers, follow_redirects=False)
    assert signed_in.status_code == (303 if allowed else 403), signed_in.text
    assert ("set-cookie" in signed_in.headers) is allowed

    browser.get(f"/login/{auth.issue_code()}")
    session = browser.cookies[COOKIE]
    signed_out = browser.post("/logout", headers=headers, follow_redirects=False)
    assert signed_out.status_code == (303 if allowed else 403), signed_out.text
    assert ("set-cookie" in signed_out.headers) is allowed  # a refusal deletes no cookie
    assert auth.valid(session) is not allowed
    if not allowed:
        assert "only from this dashboard&#39;s own pages" in signed_out.text
