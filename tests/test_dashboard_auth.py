"""Who gets to see the dashboard: the one-time login link, the session cookie it sets (HttpOnly,
SameSite=Strict, Secure over TLS), the API token pasted into the form, 401 for everything else;
and the JSON API beside it, which keeps its bearer token and ignores the cookie."""

from __future__ import annotations

import os
import re
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from axis.api.app import build_app
from axis.api.dashboard.auth import CODE_TTL, COOKIE, MAX_SESSIONS, SESSION_TTL, DashboardAuth
from axis.app.context import AppContext
from tests.claimkit import host, store
from tests.conftest import API_TOKEN
from tests.factskit import golden_facts
from tests.test_serve_tls import make_pair

PAGES = ("/", "/ui/fleet", "/host/a", "/ui/host/a")


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


def _cookie_flags(response: httpx.Response) -> set[str]:
    header = response.headers["set-cookie"]
    assert header.startswith(f"{COOKIE}=")
    return {part.strip().lower() for part in header.split(";")[1:]}


def test_every_page_is_401_without_a_session(browser: TestClient) -> None:
    for path in PAGES:
        for headers in ({}, {"Authorization": f"Bearer {API_TOKEN}"}, {"Cookie": f"{COOKIE}=made-up"}):
            r = browser.get(path, headers=headers)
            assert r.status_code == 401, (path, headers)
            assert r.headers["content-type"].startswith("text/html")
            assert '<form method="post" action="/login">' in r.text
            assert 'data-host="a"' not in r.text and "debian" not in r.text  # nothing of the fleet
            assert "set-cookie" not in r.headers


def test_the_login_link_works_once_and_redirects(browser: TestClient, auth: DashboardAuth) -> None:
    code = auth.issue_code()
    r = browser.get(f"/login/{code}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert {"httponly", "samesite=strict", "path=/"} <= _cookie_flags(r)
    assert "secure" not in _cookie_flags(r)  # plain HTTP on loopback: a Secure cookie would never come back
    assert browser.get("/").status_code == 200
    assert browser.get("/ui/fleet").status_code == 200

    with TestClient(browser.app) as other:  # the link a second time, from anywhere: spent
        again = other.get(f"/login/{code}", follow_redirects=False)
        assert again.status_code == 401 and "set-cookie" not in again.headers
        assert "used already" in again.text
        assert other.get("/").status_code == 401
        assert other.get("/login/not-a-code", follow_redirects=False).status_code == 401


def test_the_cookie_is_secure_over_tls(app: AppContext, auth: DashboardAuth) -> None:
    with TestClient(build_app(app, API_TOKEN, dashboard=auth), base_url="https://testserver") as c:
        r = c.get(f"/login/{auth.issue_code()}", follow_redirects=False)
        assert r.status_code == 303
        assert {"secure", "httponly", "samesite=strict"} <= _cookie_flags(r)


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


def test_every_answer_carries_the_security_headers(browser: TestClient, auth: DashboardAuth) -> None:
    answers = [browser.get("/"), browser.get("/login/spent", follow_redirects=False)]
    browser.get(f"/login/{auth.issue_code()}")
    answers += [browser.get("/"), browser.get("/ui/fleet"), browser.get("/host/a"), browser.get("/host/zz")]
    for r in answers:
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"
        assert r.headers["cache-control"] == "no-store"  # the fleet is never kept in a cache


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_axis_serve_prints_a_one_time_login_link(tls: bool, state_db: Path | str, tmp_path: Path) -> None:
    """`axis serve` as a user starts it: one `dashboard: URL` line on stdout, not the token; over
    TLS the link is https and the cookie Secure."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    env.pop("AXIS_STATE", None)
    token_file = tmp_path / "token"
    args: list[str] = []
    if tls:
        cert, key = make_pair(tmp_path)
        args = ["--tls-cert", str(cert), "--tls-key", str(key)]
    proc = subprocess.Popen([sys.executable, "-m", "axis", "--state", str(state_db), "serve", "--listen",
                             "127.0.0.1:0", "--token-file", str(token_file), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    scheme = "https" if tls else "http"
    verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=args[1]) if tls else True
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        found = re.fullmatch(rf"dashboard: ({scheme}://127\.0\.0\.1:\d+)/login/([A-Za-z0-9_-]{{40,}})\n", line)
        assert found, line
        base, code = found.groups()
        assert code not in token_file.read_text()
        with httpx.Client(base_url=base, verify=verify) as web:
            signed_in = web.get(f"/login/{code}")
            assert signed_in.status_code == 303 and signed_in.headers["location"] == "/"
            assert ("secure" in _cookie_flags(signed_in)) is tls
            first = web.get("/")
            assert first.status_code == 200 and 'id="hosts"' in first.text
        with httpx.Client(base_url=base, verify=verify) as web:
            assert web.get(f"/login/{code}").status_code == 401
            assert web.get("/").status_code == 401
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert code not in err  # the log says where the dashboard is, never its code
