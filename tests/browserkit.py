"""A real browser against a real `axis serve`: what the dashboard's browser tests drive.

- `chromium()`: Debian's `chromium` through its `chromium-driver` (selenium 4), headless, a
  desktop window; `phone()` turns it into a 390x844 touch screen (the page's viewport meta
  tag then applies, as on a phone). Without chromium or chromedriver the test skips with the
  reason, and fails under CI=true (tests/ci.py: no test passes by being skipped there).
- `wait()`, `status_in_page()`: a JavaScript condition polled, a status fetched by the page itself;
  `rgb()`, `hue_of()`: a computed colour read as red, green or neither.
- `start_dashboard()`: `axis serve` in a child process on a free loopback port, its stdout
  and stderr in files (a pipe nobody drains would stop a chatty server once full), and the
  one-time login link read from its `dashboard: URL` line.
- `fetch()`: a plain HTTP request that follows no redirect, for the status codes and headers
  a browser hides.
- `elsewhere()`: a page of another site (http://localhost:PORT, while the dashboard is on
  127.0.0.1), to follow a link from as from a chat or a wiki.
- `screenshot()`: the whole page as PNG into $AXIS_SCREENSHOTS, else tests/artifacts/.
"""

from __future__ import annotations

import base64
import contextlib
import http.server
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

from tests.ci import under_ci

ROOT = Path(__file__).resolve().parent.parent
DESKTOP = (1280, 900)
PHONE = (390, 844)
#: `axis serve`'s line with the one-time login link (its base URL and the code).
LOGIN_LINE = re.compile(r"^dashboard: (?P<base>https?://[^/\s]+)/login/(?P<code>\S+)$", re.MULTILINE)


def browser_unavailable(reason: str) -> None:
    """Skip, or fail under CI=true, whose machine installs chromium (.ci/run)."""
    if under_ci():
        pytest.fail(f"browser unavailable under CI=true: {reason}", pytrace=False)
    pytest.skip(f"browser unavailable: {reason} (apt-get install chromium chromium-driver)")


@contextlib.contextmanager
def chromium() -> Iterator[webdriver.Chrome]:
    """Headless chromium at DESKTOP size, quit when the block ends."""
    browser, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if browser is None or driver is None:
        browser_unavailable(" and ".join(name for name, path in (("chromium", browser), ("chromedriver", driver))
                                         if path is None) + " not on PATH")
    options = Options()
    options.binary_location = str(browser)
    for arg in ("--headless=new", f"--window-size={DESKTOP[0]},{DESKTOP[1]}", "--disable-dev-shm-usage",
                "--disable-gpu", "--no-first-run", "--disable-extensions", "--disable-background-networking",
                "--force-device-scale-factor=1", "--lang=en-US"):
        options.add_argument(arg)
    if os.geteuid() == 0:
        options.add_argument("--no-sandbox")  # chromium refuses to start as root with its sandbox
    # A driver path given: selenium runs it, and never its Selenium Manager (which would download one).
    with webdriver.Chrome(options=options, service=Service(executable_path=str(driver))) as chrome:
        yield chrome


def phone(chrome: webdriver.Chrome) -> None:
    """Emulate a PHONE-sized touch screen (CSS pixels) until `desktop()`."""
    chrome.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": PHONE[0], "height": PHONE[1], "deviceScaleFactor": 2, "mobile": True})
    chrome.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": True})


def desktop(chrome: webdriver.Chrome) -> None:
    """Undo `phone()`."""
    chrome.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    chrome.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": False})


def wait(chrome: webdriver.Chrome, what: str, timeout: float = 30) -> Any:
    """Poll the page's JavaScript expression `what` until it is truthy; its value."""
    return WebDriverWait(chrome, timeout, poll_frequency=0.2).until(
        lambda c: c.execute_script(f"return {what}"), f"timed out after {timeout}s waiting for `{what}`")


def status_in_page(chrome: webdriver.Chrome, url: str) -> int:
    """The HTTP status of `url` fetched by the page itself, with its cookies."""
    return int(chrome.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0], {credentials: 'same-origin', redirect: 'manual'}).then(r => done(r.status));", url))


def rgb(css: str) -> tuple[int, int, int]:
    """`rgb(r, g, b)` or `rgba(r, g, b, a)` as three ints."""
    found = re.fullmatch(r"rgba?\((\d+), (\d+), (\d+)(?:, [\d.]+)?\)", css)
    assert found, css
    return int(found[1]), int(found[2]), int(found[3])


def hue_of(colour: tuple[int, int, int], *, strong: bool) -> str:
    """"red", "green" or "other": the channel that leads both others (by 50 when `strong`: a
    saturated colour; else by 10: a tint)."""
    red, green, blue = colour
    lead = 50 if strong else 10
    if red > max(green, blue) + lead:
        return "red"
    if green > max(red, blue) + lead:
        return "green"
    return "other"


def screenshot_dir() -> Path:
    """$AXIS_SCREENSHOTS, else tests/artifacts/ (gitignored); made if missing."""
    folder = Path(os.environ.get("AXIS_SCREENSHOTS") or ROOT / "tests" / "artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def screenshot(chrome: webdriver.Chrome, name: str) -> Path:
    """The whole page as now rendered (below the fold too) into screenshot_dir()/NAME.png."""
    size = chrome.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    width = max(chrome.execute_script("return window.innerWidth"), size["width"])
    shot = chrome.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": width, "height": size["height"], "scale": 1}})
    path = screenshot_dir() / f"{name}.png"
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


@dataclass
class Dashboard:
    """A running `axis serve`: its base URL (scheme://host:port), its one-time login link, and
    the files holding its stdout and stderr."""

    proc: subprocess.Popen[bytes]
    base: str
    login: str
    out: Path
    err: Path

    def url(self, path: str = "/") -> str:
        return self.base + path

    @property
    def port(self) -> int:
        return int(self.base.rsplit(":", 1)[1])

    def log(self) -> str:
        """What it printed so far, stdout then stderr: for an assertion's message."""
        return self.out.read_text(errors="replace") + self.err.read_text(errors="replace")

    def stop(self) -> int:
        """SIGTERM, as a service manager stops it; its exit status (killed after 30 s: -9)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def start_dashboard(state: Path | str, logs: Path, *, axis_args: Sequence[str] = (),
                    serve_args: Sequence[str] = ()) -> Dashboard:
    """`axis --state STATE AXIS_ARGS serve --listen 127.0.0.1:0 SERVE_ARGS` as a user starts it;
    returned once its `dashboard: URL` line is out (30 s at most), stdout and stderr in `logs`/."""
    logs.mkdir(parents=True, exist_ok=True)
    out, err = logs / "serve.out", logs / "serve.err"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("AXIS_STATE", None)
    env.pop("PYTHONUNBUFFERED", None)  # the line must reach a file (a journal, a pipe) unaided
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "axis", "--state", str(state), *axis_args,
                                 "serve", "--listen", "127.0.0.1:0", *serve_args],
                                stdout=stdout, stderr=stderr, env=env, cwd=ROOT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        found = LOGIN_LINE.search(out.read_text(errors="replace"))
        if found:
            return Dashboard(proc, found["base"], found[0].removeprefix("dashboard: "), out, err)
        time.sleep(0.1)
    dashboard = Dashboard(proc, "", "", out, err)
    code = dashboard.stop()
    raise AssertionError(f"axis serve printed no `dashboard: URL` line (exit {code}):\n{dashboard.log()}")


@dataclass
class Answer:
    status: int
    headers: dict[str, str]  # names lower-cased; Set-Cookie's values joined by "\n"
    body: str


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def fetch(url: str, *, headers: dict[str, str] | None = None, data: bytes | None = None) -> Answer:
    """One HTTP request (POST when `data` is given), redirects not followed, any status returned."""
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        response = urllib.request.build_opener(_NoRedirect).open(request, timeout=30)
    except urllib.error.HTTPError as exc:
        response = exc
    with response:
        found: dict[str, str] = {}
        for name, value in response.headers.items():
            found[name.lower()] = f"{found[name.lower()]}\n{value}" if name.lower() in found else value
        return Answer(response.status, found, response.read().decode(errors="replace"))


@contextlib.contextmanager
def elsewhere(page: str) -> Iterator[str]:
    """`page` (HTML) served at the URL yielded, http://localhost:PORT/, from a thread on
    127.0.0.1: to a browser another site than the dashboard's 127.0.0.1 (a site is the host
    name, whatever the port), as a chat or a wiki holding the login link would be."""
    body = page.encode()

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:  # quiet: no line per request on stderr
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
