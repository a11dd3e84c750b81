"""The dashboard's pages over a fleet stored as passes store one (tests.dashboardkit): what the
fleet page and a host's page show, host and spec data escaped, the live fragments answered 304
while nothing changed, the plots drawn from the stored facts history, 404 for an unknown host."""

from __future__ import annotations

import fnmatch
import html
import re
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from markupsafe import escape
from starlette.testclient import TestClient

from axis.api.app import build_app
from axis.api.dashboard.auth import DashboardAuth
from axis.api.dashboard import render as dashboard_render
from axis.api.dashboard.plots import BOTTOM, HEIGHT, LEFT, RIGHT, TOP, WIDTH, host_plots
from axis.app.context import AppContext
from axis.app.fleet_overview import Sample
from axis.specs import Kind
from axis.state.conditions import put_conditions
from axis.state.facts import Observation, store_observations
from tests.conftest import API_TOKEN
from tests.dashboardkit import HOSTILE_DESCRIPTION, PASS_EVERY, REFUSAL, fill_fleet

NAMES = ("ubu-1", "ubu-2", "ubu-3", "ubu-4")


@pytest.fixture
def now() -> float:
    return time.time()


@pytest.fixture
def browser(app: AppContext, now: float) -> Iterator[TestClient]:
    """A signed-in browser on four hosts: ubu-2 refuses earlyoom, ubu-3 is down, ubu-4's
    description holds markup."""
    fill_fleet(app.db(), NAMES, now=now, down=["ubu-3"], refusing=["ubu-2"], hostile=["ubu-4"])
    auth = DashboardAuth(API_TOKEN)
    with TestClient(build_app(app, API_TOKEN, dashboard=auth)) as c:
        assert c.get(f"/login/{auth.issue_code()}").status_code == 200
        yield c


def _row(page: str, host: str) -> str:
    found = re.search(rf'<tr class="host" data-host="{host}">(.*?)</tr>', page, re.S)
    assert found, host
    return found.group(1)


def _cond(row: str, kind: str) -> str:
    found = re.search(rf'data-cond="{kind}" data-status="(\w+)"', row)
    assert found, kind
    return found.group(1)


def test_the_fleet_page_shows_hosts_conditions_features_claims_leases_sources_events(browser: TestClient) -> None:
    page = browser.get("/").text
    assert [m for m in re.findall(r'<tr class="host" data-host="([^"]+)"', page)] == list(NAMES)
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    up, down = _row(page, "ubu-1"), _row(page, "ubu-3")
    assert [_cond(up, k) for k in ("Ready", "Reachable", "Converged")] == ["True", "True", "True"]
    assert [_cond(down, k) for k in ("Ready", "Reachable", "Converged")] == ["False", "False", "Unknown"]
    assert "Unreachable" in down and "ubu-3: unreachable: connection refused" in down
    assert '<a href="/host/ubu-1">ubu-1</a>' in up
    refusing = _row(page, "ubu-2")
    assert 'data-feature="earlyoom" data-state="refused"' in refusing
    assert html.escape(REFUSAL, quote=False) in refusing  # the host's own words, as text
    assert 'data-feature="panicRecovery" data-state="in-sync"' in refusing
    summary = re.search(r'<section id="summary".*?</section>', page, re.S)
    assert summary and re.findall(r"<b>(\d+)</b>", summary.group(0))[:4] == ["4", "3", "3", "1"]
    for section in ("hosts", "leases", "claims", "sources", "events"):
        assert f'<section id="{section}"' in page
    assert re.search(r'<tr class="claim" data-claim="nightly" data-phase="Bound">', page)
    assert re.search(r'<tr class="claim" data-claim="llm-eval" data-phase="Pending">', page)  # no ollama anywhere
    bar = re.search(r'<div class="lease-bar[^"]*" data-host="(ubu-\d)" data-used="(\d+)" data-allocatable="(\d+)"',
                    page[page.index('data-used="1073741824"') - 80:])
    assert bar and int(bar.group(2)) == 1 << 30 and int(bar.group(3)) > 1 << 30
    down_bar = re.search(r'data-host="ubu-3" data-used="0" data-allocatable="(\d+)"', page)
    assert down_bar and int(down_bar.group(1)) > 0  # a host down now keeps the capacity it was last seen with
    assert 'data-host="ubu-4" data-used="0" data-allocatable=""' in page  # its facts carry no memory
    assert 'data-source="fleet"' in page and "main@0123456" in page and 'data-result="Converged"' in page
    assert page.index("Host/ubu-3") < page.index("Host/ubu-1")  # events newest first (ubu-3's came last)


def test_a_hostile_description_is_text_everywhere(browser: TestClient) -> None:
    escaped = str(escape(HOSTILE_DESCRIPTION))  # as Jinja2 escapes: " is &#34;
    for path in ("/", "/ui/fleet", "/host/ubu-4", "/ui/host/ubu-4"):
        body = browser.get(path).text
        assert escaped in body, path
        assert "<script>alert" not in body and "<img" not in body and 'onerror=alert(2)>' not in body, path
        if path == "/":  # in its cell, as text: no attribute or element was broken out of
            assert f'<td class="description">{escaped}</td>' in _row(body, "ubu-4")
        # the only script is the static file: no inline script for markup to hide in
        scripts = re.findall(r"<script[^>]*>", body)
        assert all(re.fullmatch(r'<script src="/ui/static/dashboard\.js\?v=\w+" defer>', tag) for tag in scripts)
        assert len(scripts) == (1 if "/ui/" not in path else 0), path


def test_the_page_loads_nothing_from_elsewhere(browser: TestClient) -> None:
    for path in ("/", "/host/ubu-2"):
        body = browser.get(path).text
        urls = re.findall(r'(?:src|href|action)="([^"]*)"', body)
        assert urls and all(u.startswith("/") and not u.startswith("//") for u in urls), urls
    for asset in ("dashboard.css", "dashboard.js", "favicon.svg"):
        text = TestClient(browser.app).get(f"/ui/static/{asset}").text  # no session needed
        assert "http://" not in text.replace("http://www.w3.org/2000/svg", "") and "https://" not in text
        assert "url(" not in text and "@import" not in text
    # a way out of static/, sent as written: httpx would resolve a plain `../` before sending it
    for escape_path in ("/ui/static/%2e%2e%2fauth.py", "/ui/static/..%2fauth.py", "/ui/static/%2e%2e/auth.py",
                        "/ui/static/..%2f..%2fdashboard%2fauth.py", "/ui/static/..%5cauth.py"):
        r = TestClient(browser.app).get(escape_path)
        assert r.status_code == 404, escape_path
        assert "one-time login codes" not in r.text and "import" not in r.text, escape_path  # nothing of auth.py
    assert "There is no page at /ui/static/../auth.py" in TestClient(browser.app).get(
        "/ui/static/%2e%2e%2fauth.py").text  # the server saw the `../`: the request tested something


def test_fragments_are_304_until_the_fleet_changes(browser: TestClient, app: AppContext, now: float) -> None:
    page = browser.get("/").text
    etag = html.unescape(re.search(r'data-etag="([^"]+)"', page).group(1))  # type: ignore[union-attr]
    first = browser.get("/ui/fleet")
    assert first.status_code == 200 and first.headers["etag"] == etag  # the page's own sections
    assert first.text.lstrip().startswith('<section id="summary"') and "<html" not in first.text
    unchanged = browser.get("/ui/fleet", headers={"If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.content == b""
    with app.db().write() as session:  # ubu-1 goes down
        store_observations(session, [Observation("ubu-1", "unreachable", "ubu-1: timed out", None, now + PASS_EVERY)])
        put_conditions(session, Kind.HOST, "ubu-1", [("Reachable", False, "Unreachable", "ubu-1: timed out"),
                                                     ("Ready", False, "NotReady", "ubu-1: timed out")],
                       generation=1, now=now + PASS_EVERY, probed=now + PASS_EVERY)
    changed = browser.get("/ui/fleet", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert _cond(_row(changed.text, "ubu-1"), "Ready") == "False"
    host = browser.get("/ui/host/ubu-1")
    assert browser.get("/ui/host/ubu-1", headers={"If-None-Match": host.headers["etag"]}).status_code == 304


def test_a_host_page_plots_its_facts_history(browser: TestClient, app: AppContext) -> None:
    page = browser.get("/host/ubu-1").text
    assert 'data-fragment="/ui/host/ubu-1"' in page
    plots = dict(re.findall(r'<svg class="plot" data-metric="(\w+)" data-points="(\d+)"', page))
    assert plots == {"load": "20", "memory": "20", "disk": "20"}  # one point per stored pass
    with app.snapshot() as snap:
        newest = snap.facts_history("ubu-1")[-1].data
    assert newest is not None
    figure = re.search(r'<figcaption>load \(1 min\) <b>([\d.]+)</b>', page)
    assert figure and float(figure.group(1)) == newest["load"]["load1"]
    line = re.search(r'data-metric="disk".*?<polyline class="line" points="([^"]+)"', page, re.S)
    assert line
    ys = [float(p.split(",")[1]) for p in line.group(1).split()]
    assert all(TOP <= y <= HEIGHT - BOTTOM for y in ys) and ys[-1] < ys[0]  # the disk fills up: the line rises
    for section in ("host-head", "plots", "facts", "features", "host-leases", "passes", "events"):
        assert f'<section id="{section}"' in page
    assert "Intel(R) Xeon(R) Processor" in page
    assert "revision <code>main@0123456</code> of fleet" in page  # the git revision that converged it
    down = browser.get("/host/ubu-3").text
    assert 'data-observed="unreachable"' in down and "ubu-3: unreachable: connection refused" in down
    assert 'data-points="19"' in down  # the down pass carried no numbers: the plots show the 19 before it


def test_plot_geometry() -> None:
    gib = 1 << 30
    samples = [Sample(at=1000.0 + 60 * i, load1=float(i), memory_used_bytes=i * gib, memory_total_bytes=8 * gib,
                      disk_used_bytes=None, disk_size_bytes=None) for i in range(5)]
    load, memory, disk = host_plots(samples)
    points = [tuple(map(float, p.split(","))) for p in memory.points.split()]
    assert points[0] == (LEFT, HEIGHT - BOTTOM) and points[-1][0] == WIDTH - RIGHT
    assert points[-1][1] == pytest.approx(HEIGHT - BOTTOM - 0.5 * (HEIGHT - BOTTOM - TOP), abs=0.1)  # 4 of 8 GiB
    assert memory.y_top == "8.0Gi" and memory.latest == "4.0Gi"
    assert load.latest == "4.00" and float(load.y_top) == pytest.approx(4.4)  # the largest value and a margin
    assert disk.empty and disk.points == "" and disk.latest == "no data"
    one = host_plots(samples[:1])[0]
    assert one.points == f"{(LEFT + WIDTH - RIGHT) / 2},{float(HEIGHT - BOTTOM)}"  # a single pass: in the middle


def test_an_unknown_host_is_a_404_page(browser: TestClient) -> None:
    for path in ("/host/nope", "/ui/host/nope"):
        r = browser.get(path)
        assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
        assert "Host &#39;nope&#39; not found" in r.text
    r = browser.get("/host/%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E")
    assert r.status_code == 404 and "&lt;img src=x onerror=alert(1)&gt;" in r.text and "<img" not in r.text
    r = browser.get("/host/a/b")  # no page at all: still an HTML page
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")


def test_an_empty_state_renders(app: AppContext) -> None:
    auth = DashboardAuth(API_TOKEN)
    with TestClient(build_app(app, API_TOKEN, dashboard=auth)) as c:
        c.get(f"/login/{auth.issue_code()}")
        page = c.get("/")
        assert page.status_code == 200
        assert "No hosts yet" in page.text and "No claims." in page.text and "No git source" in page.text


def test_templates_and_assets_are_package_data() -> None:
    """A wheel ships only what `[tool.setuptools.package-data]` names: a template it missed would
    break an installed `axis serve` while a checkout works (as tests/test_shell_files.py checks
    for the scripts)."""
    package = Path(dashboard_render.__file__).parent
    root = package.parent.parent.parent
    globs = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"][
        "axis.api.dashboard"]
    shipped = [p.relative_to(package).as_posix() for p in package.rglob("*")
               if p.is_file() and p.suffix != ".py" and "__pycache__" not in p.parts]
    assert len(shipped) >= 10
    assert all(any(fnmatch.fnmatch(name, glob) for glob in globs) for name in shipped), shipped
    assert set(dashboard_render.assets()) == {n.removeprefix("static/") for n in shipped if n.startswith("static/")}
