"""Who gets to see the dashboard: the one-time login link, the session cookie it sets (HttpOnly,
SameSite=Strict, Secure and `__Host-` over TLS, named per port), the API token pasted into the
form, 401 for everything else, telling nothing of the server; and the JSON API beside it, which
keeps its bearer token and ignores the cookie."""

from __future__ import annotations

import re
import ssl
import time
from collections.abc import Iterator
from http.cookiejar import CookieJar
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from axis.api.app import build_app
from axis import __version__
from axis.api.dashboard.auth import CODE_TTL, MAX_SESSIONS, SESSION_TTL, DashboardAuth
from axis.app.context import AppContext
from tests.claimkit import host, store
from tests.conftest import API_TOKEN
from tests.factskit import golden_facts
from tests.browserkit import start_dashboard
from tests.test_serve_tls import make_pair

PAGES = ("/", "/ui/fleet", "/host/a", "/ui/host/a")
#: The session cookie of a server the browser reaches on port 80 (TestClient's http://testserver).
COOKIE = "axis_session_80"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def auth() -> DashboardAuth:
    return DashboardAuth(API_TOKEN)


@pytest.fixture
def browser(app: AppContext, auth: DashboardAuth) -> Iterator[TestClient]:
    """A browser without a session: no Authorization header, cookies kept between requests."""
    store(app.db(), [host("a")], {"a": golden_facts("debian12")}, now=time.time())
    with TestClient(build_app(app, API_TOKEN, dashboard=auth)) as c:
        yield c


def _cookie_flags(response: httpx.Response, name: str = COOKIE) -> set[str]:
    header = response.headers["set-cookie"]
    assert header.startswith(f"{name}="), header
    return {part.strip().lower() for part in header.split(";")[1:]}


def tells_nothing(r: httpx.Response, app: AppContext) -> None:
    """An answer to a browser without a session names neither this axis's version nor its state DB."""
    assert f"axis {__version__}" not in r.text and str(app.state) not in r.text, (r.request.url, r.text)
    assert "read-only view of" not in r.text


def test_every_page_is_401_without_a_session(browser: TestClient, app: AppContext) -> None:
    for path in PAGES:
        for headers in ({}, {"Authorization": f"Bearer {API_TOKEN}"}, {"Cookie": f"{COOKIE}=made-up"}):
            r = browser.get(path, headers=headers)
            assert r.status_code == 401, (path, headers)
            assert r.headers["content-type"].startswith("text/html")
            assert '<form method="post" action="/login">' in r.text
            assert 'data-host="a"' not in r.text and "debian" not in r.text  # nothing of the fleet
            assert "set-cookie" not in r.headers
            tells_nothing(r, app)


def test_no_answer_without_a_session_names_the_version_or_the_state(browser: TestClient, app: AppContext,
                                                                    auth: DashboardAuth) -> None:
    """As the API's bearer rule: not even which axis runs here, nor where its state is, is told
    to a browser without a session; a signed-in page says both in its footer."""
    spent = auth.issue_code()
    with TestClient(browser.app) as other:
        other.get(f"/login/{spent}")
    answers = [browser.get(path) for path in (*PAGES, "/ui/whatever", "/host/a/b", "/login", f"/login/{spent}",
                                              "/login/not-a-code", "/ui/static/nothing.css")]
    answers += [browser.post("/", data={}), browser.post("/login", data={"token": "wrong"}),
                browser.post("/login", content=b"token=" + b"x" * 5000),
                browser.post("/logout", headers={"Sec-Fetch-Site": "cross-site"})]
    assert [r.status_code for r in answers] == [401] * 4 + [404, 404, 200, 401, 401, 404, 405, 401, 413, 403]
    for r in answers:
        tells_nothing(r, app)
    browser.get(f"/login/{auth.issue_code()}")
    for path in ("/", "/host/a", "/ui/whatever"):
        assert f"axis {__version__} · read-only view of {app.state}" in browser.get(path).text, path


def test_the_login_link_works_once_and_moves_on_by_itself(browser: TestClient, auth: DashboardAuth) -> None:
    code = auth.issue_code()
    r = browser.get(f"/login/{code}", follow_redirects=False)
    # a page, not a redirect: a link clicked on another site's page starts a cross-site chain, whose
    # redirects the browser sends no Strict cookie on; the page's own refresh is same-site
    assert r.status_code == 200 and "location" not in r.headers and r.headers["cache-control"] == "no-store"
    assert '<meta http-equiv="refresh" content="0;url=/">' in r.text and '<a href="/">' in r.text
    assert code not in r.text and "<script" not in r.text and 'data-host="a"' not in r.text  # no data on it
    assert {"httponly", "samesite=strict", "path=/"} <= _cookie_flags(r)
    assert "secure" not in _cookie_flags(r)  # plain HTTP on loopback: a Secure cookie would never come back
    assert browser.get("/").status_code == 200
    assert browser.get("/ui/fleet").status_code == 200
    back = browser.get(f"/login/{code}", follow_redirects=False)  # Back to the spent link, signed in
    assert back.status_code == 303 and back.headers["location"] == "/" and "set-cookie" not in back.headers

    with TestClient(browser.app) as other:  # the link a second time, from anywhere: spent
        again = other.get(f"/login/{code}", follow_redirects=False)
        assert again.status_code == 401 and "set-cookie" not in again.headers
        assert "used already" in again.text
        assert other.get("/").status_code == 401
        assert other.get("/login/not-a-code", follow_redirects=False).status_code == 401


def test_the_cookie_is_secure_over_tls(app: AppContext, auth: DashboardAuth) -> None:
    with TestClient(build_app(app, API_TOKEN, dashboard=auth), base_url="https://testserver:8443") as c:
        r = c.get(f"/login/{auth.issue_code()}", follow_redirects=False)
        assert r.status_code == 200
        # __Host-: the browser takes it only Secure, for Path=/ and with no Domain
        flags = _cookie_flags(r, "__Host-axis_session_8443")
        assert {"secure", "httponly", "samesite=strict", "path=/"} <= flags
        assert not [f for f in flags if f.startswith("domain")]
        assert c.get("/").status_code == 200
        assert c.post("/logout", follow_redirects=False).headers["set-cookie"].startswith("__Host-axis_session_8443=")


def test_each_port_has_its_own_cookie(app: AppContext) -> None:
    """Two `axis serve` on one machine, one browser (a shared cookie jar: cookies are kept per
    host, not per port): signing in to one leaves the other signed in, and so does signing out."""
    jar = CookieJar()
    first, second = DashboardAuth(API_TOKEN), DashboardAuth(API_TOKEN)
    with (TestClient(build_app(app, API_TOKEN, dashboard=first), base_url="http://127.0.0.1:42425", cookies=jar) as a,
          TestClient(build_app(app, API_TOKEN, dashboard=second), base_url="http://127.0.0.1:42426", cookies=jar) as b):
        assert _cookie_flags(a.get(f"/login/{first.issue_code()}"), "axis_session_42425")
        assert _cookie_flags(b.get(f"/login/{second.issue_code()}"), "axis_session_42426")
        assert sorted(c.name for c in jar) == ["axis_session_42425", "axis_session_42426"]
        assert a.get("/").status_code == 200 and b.get("/").status_code == 200
        assert b.post("/logout", follow_redirects=False).status_code == 303
        assert a.get("/").status_code == 200 and b.get("/").status_code == 401


def test_codes_and_sessions_expire() -> None:
    clock = Clock()
    auth = DashboardAuth(API_TOKEN, clock=clock)
    late, fresh = auth.issue_code(), auth.issue_code()
    clock.now += CODE_TTL - 1
    session = auth.redeem_code(fresh)
    assert session is not None and auth.valid(session)
    clock.now += 2
    assert auth.redeem_code(late) is None  # ten minutes and a second after it was printed
    clock.now += SESSION_TTL - 3  # a second before twelve hours since it opened
    assert auth.valid(session)
    clock.now += 1
    assert not auth.valid(session)
    assert not auth.valid(None) and not auth.valid("")


def test_sessions_are_bounded() -> None:
    auth = DashboardAuth(API_TOKEN)
    first = auth.redeem_token(API_TOKEN)
    for _ in range(MAX_SESSIONS):
        last = auth.redeem_token(API_TOKEN)
    assert not auth.valid(first) and auth.valid(last)


def test_the_api_token_in_the_form_signs_in(browser: TestClient) -> None:
    form = browser.get("/login")
    assert form.status_code == 200 and 'name="token"' in form.text and 'type="password"' in form.text
    for wrong in ("", "nope", API_TOKEN[:-1], API_TOKEN + "x"):
        r = browser.post("/login", data={"token": wrong}, follow_redirects=False)
        assert r.status_code == 401 and "set-cookie" not in r.headers
    assert browser.post("/login", content=b"token=" + b"x" * 5000, follow_redirects=False).status_code == 413
    r = browser.post("/login", data={"token": API_TOKEN}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert {"httponly", "samesite=strict"} <= _cookie_flags(r)
    assert browser.get("/").status_code == 200
    assert browser.get("/login", follow_redirects=False).status_code == 303  # signed in already


def test_signing_out_ends_the_session(browser: TestClient, auth: DashboardAuth) -> None:
    browser.get(f"/login/{auth.issue_code()}")
    cookie = browser.cookies[COOKIE]
    r = browser.post("/logout", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert r.headers["set-cookie"].startswith(f'{COOKIE}=""; ')  # the browser drops it
    assert not auth.valid(cookie)
    assert browser.get("/", headers={"Cookie": f"{COOKIE}={cookie}"}).status_code == 401


def test_the_json_api_keeps_its_bearer_token_and_ignores_the_cookie(browser: TestClient,
                                                                      auth: DashboardAuth) -> None:
    browser.get(f"/login/{auth.issue_code()}")
    assert browser.get("/").status_code == 200  # the session works for the pages
    for path in ("/hosts", "/hosts/a", "/health", "/openapi.json", "/nowhere"):
        r = browser.get(path)
        assert r.status_code == 401 and r.json() == {"error": "missing or wrong bearer token"}, path
    r = browser.get("/hosts", headers={"Authorization": f"Bearer {API_TOKEN}"})
    assert r.status_code == 200 and [i["metadata"]["name"] for i in r.json()["items"]] == ["a"]


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_axis_serve_prints_a_one_time_login_link(tls: bool, state_db: Path | str, tmp_path: Path) -> None:
    """`axis serve` as a user starts it: one `dashboard: URL` line on stdout, not the token; over
    TLS the link is https and the cookie Secure."""
    token_file = tmp_path / "token"
    args: list[str] = []
    if tls:
        cert, key = make_pair(tmp_path)
        args = ["--tls-cert", str(cert), "--tls-key", str(key)]
    # as a service starts it (stdout a file, no PYTHONUNBUFFERED): the line must be flushed unaided
    board = start_dashboard(state_db, tmp_path / "logs", serve_args=["--token-file", str(token_file), *args])
    scheme = "https" if tls else "http"
    verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=args[1]) if tls else True
    try:
        line = board.out.read_text().splitlines()[0]
        found = re.fullmatch(rf"dashboard: ({scheme}://127\.0\.0\.1:\d+)/login/([A-Za-z0-9_-]{{40,}})", line)
        assert found, line
        base, code = found.groups()
        assert code not in token_file.read_text()
        with httpx.Client(base_url=base, verify=verify) as web:
            signed_in = web.get(f"/login/{code}")
            assert signed_in.status_code == 200 and '<meta http-equiv="refresh" content="0;url=/">' in signed_in.text
            port = base.rsplit(":", 1)[1]  # the port it bound, which the browser reached it on
            flags = _cookie_flags(signed_in, f"__Host-axis_session_{port}" if tls else f"axis_session_{port}")
            assert ("secure" in flags) is tls
            first = web.get("/")
            assert first.status_code == 200 and 'id="hosts"' in first.text
        with httpx.Client(base_url=base, verify=verify) as web:
            assert web.get(f"/login/{code}").status_code == 401
            assert web.get("/").status_code == 401
    finally:
        board.stop()
    err = board.err.read_text()
    assert code not in err  # the log says where the dashboard is, never its code
