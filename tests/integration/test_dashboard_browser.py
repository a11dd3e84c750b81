"""The dashboard in a real browser (issue 23): headless chromium (tests/browserkit.py) against
`axis serve --watch` on a state DB that `axis apply` filled from the real test hosts, its
controller re-observing them every 2 s while the page is open (tests/integration/boardkit.py).

Without a session the pages answer 401 and show nothing of the fleet; the one-time login link
works once and leaves a session cookie (HttpOnly, SameSite=Strict, named for the port) and no code
in the address bar, also when clicked on another site's page; the fleet page lists the hosts with
their conditions; a host whose link goes down turns red on the open page, with no reload, and
green again once it is back; the live marker tells UTC and stops polling once signed out; a
hostile description is shown as text and runs nothing; a host's page plots its facts history; at
phone size nothing overflows sideways. Screenshots of the fleet page, a host page and the phone
view go to $AXIS_SCREENSHOTS (else tests/artifacts/).

The tests do not depend on their order: each signs in afresh (`sign_in`, the token in the form),
only one spends the printed login link, and the one that cuts a host's link waits for the host
to be shown reachable again before it ends.
"""

from __future__ import annotations

import re
import secrets
import time
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver import Chrome
from selenium.webdriver.common.by import By

from tests.browserkit import (chromium, desktop, elsewhere, fetch, hue_of, phone, screenshot, start_dashboard,
                              status_in_page, wait)
from tests.integration.boardkit import (HOSTILE, RESYNC, Board, cell, colours, served_board, shows_no_fleet,
                                        sign_in)
from tests.integration.controlkit import query
from tests.integration.fleetspecs import say
from tests.sshhosts.host import TestHost

pytestmark = pytest.mark.hosts

CONDITIONS = ("Ready", "Reachable", "Converged")


@pytest.fixture(scope="module")
def board(fleet: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Board]:
    with served_board(fleet, tmp_path_factory.mktemp("dashboard")) as served:
        yield served


@pytest.fixture(scope="module")
def browser() -> Iterator[Chrome]:
    with chromium() as chrome:
        yield chrome


def test_without_a_session_every_page_is_401_and_shows_no_fleet_data(board: Board, browser: Chrome) -> None:
    host = board.fleet.hosts[0].name
    for path in ("/", f"/host/{host}", "/ui/fleet", f"/ui/host/{host}"):
        answer = fetch(board.dashboard.url(path))
        assert answer.status == 401, (path, answer)
        assert answer.headers["content-type"].startswith("text/html"), answer.headers
        assert not [h.name for h in board.fleet.hosts if h.name in answer.body], (path, answer.body)
        assert str(board.state) not in answer.body and "read-only view of" not in answer.body  # nor where, nor which
    # the JSON API keeps its bearer token
    assert fetch(board.dashboard.url("/hosts")).status == 401
    assert fetch(board.dashboard.url("/hosts"), headers={"Authorization": f"Bearer {board.token}"}).status == 200
    # a wrong token in the form is no way in
    wrong = fetch(board.dashboard.url("/login"), data=urllib.parse.urlencode({"token": "wrong"}).encode(),
                  headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert wrong.status == 401 and "set-cookie" not in wrong.headers, wrong

    browser.delete_all_cookies()
    browser.get(board.dashboard.url("/"))
    shows_no_fleet(browser, board)
    assert status_in_page(browser, "/") == 401


def test_the_login_link_works_once_and_leaves_an_httponly_cookie_and_no_code(board: Board, browser: Chrome) -> None:
    login, code = board.dashboard.login, board.dashboard.login.rsplit("/", 1)[1]
    browser.delete_all_cookies()
    browser.get(login)
    wait(browser, "document.querySelectorAll('#hosts tr.host').length")
    assert browser.current_url == board.dashboard.url("/")  # moved on: the code left the address bar
    assert code not in browser.current_url and code not in browser.execute_script("return location.href")
    name = f"axis_session_{board.dashboard.port}"  # one per port: another `axis serve` here keeps its own
    cookie = browser.get_cookie(name)
    assert cookie is not None and [c["name"] for c in browser.get_cookies()] == [name], browser.get_cookies()
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict", cookie
    assert code not in cookie["value"] and board.token not in cookie["value"]
    assert "axis_session" not in browser.execute_script("return document.cookie")  # out of the page's scripts' reach
    assert status_in_page(browser, "/") == 200

    assert fetch(login).status == 401  # used: the link is good once
    browser.delete_all_cookies()
    browser.get(login)
    shows_no_fleet(browser, board)


def test_the_login_link_clicked_on_another_sites_page_signs_in(board: Board, browser: Chrome,
                                                                 tmp_path: Path) -> None:
    """A link in a chat or a wiki: a cross-site navigation, on whose redirects a browser sends no
    Strict cookie; the link's page moves on by itself, same-site, and lands signed in. A second
    `axis serve` on this machine, so the first one's session (another port's cookie) must
    survive it."""
    sign_in(browser, board)
    other = start_dashboard(board.state, tmp_path / "logs")
    try:
        with elsewhere(f'<p>the dashboard: <a id="link" href="{other.login}">open it</a></p>') as page:
            assert urllib.parse.urlsplit(page).hostname == "localhost"  # another site than 127.0.0.1
            browser.get(page)
            browser.find_element(By.ID, "link").click()
            wait(browser, "document.querySelectorAll('#hosts tr.host').length")
        assert browser.current_url == other.url("/"), browser.current_url  # the code left the address bar
        assert sorted(browser.execute_script(
            "return [...document.querySelectorAll('#hosts tr.host')].map(r => r.dataset.host)")) == sorted(
            h.name for h in board.fleet.hosts)
        assert status_in_page(browser, "/ui/fleet") == 200
        cookies = sorted(c["name"] for c in browser.get_cookies())
        assert cookies == sorted(f"axis_session_{d.port}" for d in (board.dashboard, other)), cookies
        browser.get(board.dashboard.url("/"))  # the first server: still signed in
        wait(browser, "document.querySelectorAll('#hosts tr.host').length")
        assert fetch(other.login).status == 401  # spent by the click
    finally:
        assert other.stop() == 0, other.log()


def test_the_live_marker_tells_utc_and_stops_polling_once_signed_out(board: Board, browser: Chrome) -> None:
    """Every time on the page is UTC, the marker's too, whatever the browser's zone (India's
    here: 5 h 30 off); a 401 stops the polling and says so, instead of asking every 2 s forever."""
    browser.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": "Asia/Kolkata"})
    try:
        sign_in(browser, board)
        assert browser.execute_script("return new Date().getTimezoneOffset()") == -330
        refreshed = int(browser.find_element(By.TAG_NAME, "body").get_attribute("data-refreshed") or 0)
        wait(browser, f"Number(document.body.dataset.refreshed) > {refreshed}", timeout=30)
        marker = browser.find_element(By.ID, "live").text
        found = re.fullmatch(r"updated (\d\d):(\d\d):(\d\d) UTC · live", marker)
        assert found, marker
        now = datetime.now(UTC)
        off = (int(found[1]) * 3600 + int(found[2]) * 60 + int(found[3])
               - (now.hour * 3600 + now.minute * 60 + now.second)) % 86400
        assert min(off, 86400 - off) <= 10, (marker, now)

        # the page's polls counted (its script calls the global fetch each time)
        browser.execute_script("window.__polls = 0; const fetch = window.fetch;"
                               "window.fetch = (...args) => { window.__polls++; return fetch(...args); }")
        browser.delete_all_cookies()  # the session is gone (a restart, an expiry, a sign-out elsewhere)
        wait(browser, "document.getElementById('live').dataset.state === 'signed-out'", timeout=10)
        assert "signed out" in browser.find_element(By.ID, "live").text
        asked = browser.execute_script("return window.__polls")
        assert asked >= 1  # the poll that met the 401 went through the count
        time.sleep(5)  # two and a half polling periods
        assert browser.execute_script("return window.__polls") == asked
    finally:
        browser.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": ""})


def test_the_fleet_page_lists_every_host_with_its_conditions(board: Board, browser: Chrome) -> None:
    sign_in(browser, board)
    names = sorted(h.name for h in board.fleet.hosts)
    assert sorted(browser.execute_script(
        "return [...document.querySelectorAll('#hosts tr.host')].map(r => r.dataset.host)")) == names
    for name in names:
        wait(browser, f"{cell(name, 'Ready')}.dataset.status === 'True'", timeout=60)
        for condition in CONDITIONS:
            found = browser.execute_script(f"const c = {cell(name, condition)};"
                                           "return [c.dataset.status, c.textContent, c.title]")
            assert found[0] == "True" and "True" in found[1], (name, condition, found)
            tint, badge = colours(browser, name, condition)
            assert (hue_of(tint, strong=False), hue_of(badge, strong=True)) == ("green", "green"), (tint, badge)
        # the host refuses panicRecovery's live step, and says why: in its own words on the page
        feature = browser.find_element(By.CSS_SELECTOR, f'tr.host[data-host="{name}"] .feature[data-feature="panicRecovery"]')
        assert feature.get_attribute("data-state") == "refused", feature.get_attribute("outerHTML")
        words = feature.get_attribute("textContent") or ""  # on one line, cut with an ellipsis
        assert "permission denied" in words and "permission denied" in (feature.get_attribute("title") or ""), words
    bound = query(board.state, "SELECT host FROM leases WHERE claim = 'job'")
    assert bound, "the claim was never bound"
    claim = browser.find_element(By.CSS_SELECTOR, '#claims tr.claim[data-claim="job"]')
    assert "Bound" in claim.text and bound[0][0] in claim.text, claim.text
    bar = browser.find_element(By.CSS_SELECTOR, f'#leases .lease-bar[data-host="{bound[0][0]}"]')
    assert int(bar.get_attribute("data-used") or 0) == 64 * 2**20 < int(bar.get_attribute("data-allocatable") or 0)
    assert "live" in browser.find_element(By.TAG_NAME, "body").text
    say(f"dashboard: fleet page {screenshot(browser, 'fleet')}")


def test_a_host_going_down_turns_red_without_a_reload(board: Board, browser: Chrome) -> None:
    sign_in(browser, board)
    victim = board.fleet.hosts[0]
    wait(browser, f"{cell(victim.name, 'Reachable')}.dataset.status === 'True'", timeout=60)
    sentinel = secrets.token_hex(8)
    browser.execute_script("window.__axisSentinel = arguments[0]", sentinel)
    refreshed = int(browser.find_element(By.TAG_NAME, "body").get_attribute("data-refreshed") or 0)

    victim.link_down()
    try:
        cut = time.monotonic()
        wait(browser, f"{cell(victim.name, 'Reachable')}.dataset.status === 'False'", timeout=90)
        say(f"dashboard: {victim.name}'s link cut, its Reachable cell red {time.monotonic() - cut:.1f}s later "
            f"(resync {RESYNC}, keepalives give up after 12 s of silence)")
        shown_down(board, browser, victim, sentinel, refreshed)
    finally:  # the next test, whichever it is, sees the whole fleet up
        victim.link_up()
        back = time.monotonic()
        wait(browser, f"{cell(victim.name, 'Reachable')}.dataset.status === 'True'", timeout=90)
        say(f"dashboard: {victim.name}'s link back, its Reachable cell green {time.monotonic() - back:.1f}s later")


def shown_down(board: Board, browser: Chrome, victim: TestHost, sentinel: str, refreshed: int) -> None:
    """The open page (the same one: no reload) shows `victim` unreachable, in red, in the pass's
    words, and every other host still reachable."""
    assert browser.execute_script("return window.__axisSentinel") == sentinel  # the same page: no reload
    assert int(browser.find_element(By.TAG_NAME, "body").get_attribute("data-refreshed") or 0) > refreshed
    for condition in ("Reachable", "Ready"):
        wait(browser, f"{cell(victim.name, condition)}.dataset.status === 'False'", timeout=10)
        tint, badge = colours(browser, victim.name, condition)
        assert (hue_of(tint, strong=False), hue_of(badge, strong=True)) == ("red", "red"), (condition, tint, badge)
    reason, why = browser.execute_script(f"const c = {cell(victim.name, 'Reachable')};"
                                         "return [c.querySelector('.reason').textContent, c.title]")
    # the pass's words, as title; a kept connection closed under the next command is the host
    # unreachable too (it read "Error: the host refused a session channel" before 9d0fba8)
    assert reason == "Unreachable" and victim.name in why and "refused" not in why, (reason, why)
    say(f"dashboard: {victim.name} shown as {why!r}")
    for other in board.fleet.hosts[1:]:
        assert browser.execute_script(f"return {cell(other.name, 'Reachable')}.dataset.status") == "True"
    say(f"dashboard: a host down {screenshot(browser, 'fleet-host-down')}")


def test_a_hostile_description_is_shown_as_text_and_runs_nothing(board: Board, browser: Chrome) -> None:
    sign_in(browser, board)
    refreshed = int(browser.find_element(By.TAG_NAME, "body").get_attribute("data-refreshed") or 0)
    # a live update swapped the sections at least once: the swapped HTML is checked too
    wait(browser, f"Number(document.body.dataset.refreshed) > {refreshed}", timeout=30)
    description = browser.find_element(By.CSS_SELECTOR, f'#hosts tr.host[data-host="{board.hostile}"] td.description')
    assert (description.get_attribute("textContent") or "").strip() == HOSTILE
    assert browser.execute_script("return document.querySelectorAll('img[src=\"x\"], [onerror]').length") == 0
    assert browser.execute_script("return [...document.scripts].every(s => s.src && !s.textContent.trim())")
    assert browser.execute_script("return typeof window.__pwned") == "undefined"

    browser.get(board.dashboard.url(f"/host/{board.hostile}"))
    wait(browser, "document.querySelectorAll('svg.plot').length")
    assert HOSTILE in browser.find_element(By.TAG_NAME, "body").text
    assert browser.execute_script("return typeof window.__pwned") == "undefined"
    assert browser.execute_script("return document.querySelectorAll('img[src=\"x\"], [onerror]').length") == 0


def test_a_host_page_plots_its_facts_history(board: Board, browser: Chrome) -> None:
    host = board.fleet.hosts[1].name
    wait_rows = time.monotonic() + 60  # the controller adds an observation every resync
    while query(board.state, "SELECT count(*) FROM facts WHERE host = ?", host)[0][0] < 3:
        assert time.monotonic() < wait_rows, "fewer than 3 observations of the host after 60 s"
        time.sleep(0.5)
    sign_in(browser, board)
    browser.find_element(By.CSS_SELECTOR, f'#hosts tr.host[data-host="{host}"] a').click()
    wait(browser, "document.querySelectorAll('svg.plot').length")
    assert browser.current_url == board.dashboard.url(f"/host/{host}")
    for metric in ("load", "memory", "disk"):
        plot = browser.find_element(By.CSS_SELECTOR, f'svg.plot[data-metric="{metric}"]')
        points = browser.execute_script("const l = arguments[0].querySelector('polyline');"
                                        "return l ? l.points.numberOfItems : 0", plot)
        assert points >= 2, (metric, plot.get_attribute("outerHTML"))
        box = plot.rect
        assert box["width"] > 100 and box["height"] > 40, (metric, box)  # drawn, not collapsed
    say(f"dashboard: host page {screenshot(browser, 'host')}")


def test_at_phone_size_nothing_overflows_sideways(board: Board, browser: Chrome) -> None:
    sign_in(browser, board)
    phone(browser)
    try:
        browser.refresh()
        wait(browser, "document.querySelectorAll('#hosts tr.host').length")
        assert browser.execute_script("return window.innerWidth") == 390
        widths = browser.execute_script("return [document.documentElement.scrollWidth, document.body.scrollWidth]")
        assert max(widths) <= 390, widths
        say(f"dashboard: phone view {screenshot(browser, 'phone')}")
    finally:
        desktop(browser)
