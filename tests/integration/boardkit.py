"""The dashboard served over the real test fleet, and how its browser tests read the page:
`served_board()` applies the test hosts and runs `axis serve --watch` on them; `sign_in()`,
`cell()`, `colours()` and `shows_no_fleet()` drive and read the page in chromium."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from selenium.webdriver import Chrome
from selenium.webdriver.common.by import By

from axis.app.token import default_token_path, read_token
from axis.drivers.features.panic_recovery import PATH as PANIC_CONF
from axis.state import Location
from tests.browserkit import Dashboard, rgb, start_dashboard, wait
from tests.integration.controlkit import AXIS
from tests.integration.fleetspecs import host_specs, say
from tests.integration.hostreset import hosts_reset

#: The description of one host: a script, and an attribute breakout with an event handler.
HOSTILE = '<script>window.__pwned=1</script>"><img src=x onerror="window.__pwned=2">'
CLAIM = """
apiVersion: axis/v1
kind: Claim
metadata: {name: job}
spec: {task: print a greeting, requires: {memory: 64Mi, tools: []}, ttl: 30m}
"""
#: The controller passes every RESYNC; a cut link is given up after 12 s of silence (SILENCE_LIMIT).
RESYNC = "2s"


@dataclass
class Board:
    """The served dashboard, its state DB and API token, and the fleet it shows."""

    dashboard: Dashboard
    state: Path
    token: str
    fleet: Any

    @property
    def hostile(self) -> str:
        """The host whose description is HOSTILE."""
        return str(self.fleet.hosts[-1].name)


@contextlib.contextmanager
def served_board(fleet: Any, work: Path) -> Iterator[Board]:
    """The test hosts applied (panicRecovery, which the namespaced hosts refuse live, and one
    claim), then `axis serve --watch` on the same specs and state DB in `work`, stopped cleanly
    (exit 0) at the end."""
    specs, state = work / "specs", work / "state.db"
    specs.mkdir()
    features = "{panicRecovery: {panicSeconds: 5}}"
    (specs / "hosts.yaml").write_text("---\n".join(
        host_specs(fleet, hosts=[host], features=features,
                   description=HOSTILE if host is fleet.hosts[-1] else f"test host {host.name}")
        for host in fleet.hosts))
    (specs / "claim.yaml").write_text(CLAIM)
    ssh = ("--ssh-config", str(fleet.ssh_config))
    with hosts_reset(fleet, f"rm -f {PANIC_CONF}"):
        applied = subprocess.run([*AXIS, "--state", str(state), *ssh, "apply", "-f", str(specs)],
                                 capture_output=True, text=True, timeout=120)
        assert applied.returncode == 0, applied.stdout + applied.stderr
        began = time.monotonic()
        dashboard = start_dashboard(state, work / "logs", axis_args=ssh,
                                    serve_args=("--watch", str(specs), "--resync", RESYNC))
        say(f"dashboard: axis serve --watch printed its login link in {time.monotonic() - began:.1f}s")
        try:
            yield Board(dashboard, state, read_token(default_token_path(Location(path=state))), fleet)
        finally:
            code = dashboard.stop()
        assert code == 0, dashboard.log()


def sign_in(chrome: Chrome, board: Board) -> None:
    """A fresh session through the 401 page's form (the API token pasted): on the fleet page."""
    chrome.delete_all_cookies()
    chrome.get(board.dashboard.url("/"))
    field = chrome.find_element(By.CSS_SELECTOR, "form input:not([type=hidden]):not([type=submit])")
    field.send_keys(board.token)
    field.submit()
    wait(chrome, "document.querySelectorAll('#hosts tr.host').length")
    assert chrome.current_url == board.dashboard.url("/")


def cell(host: str, condition: str) -> str:
    """JavaScript: the condition cell of `host`'s row."""
    return f"document.querySelector('#hosts tr.host[data-host=\"{host}\"] td.cond[data-cond=\"{condition}\"]')"


def colours(chrome: Chrome, host: str, condition: str) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """The computed background colours of `host`'s `condition` cell and of the badge in it (the
    cell is tinted, the badge saturated), as (r, g, b)."""
    found = chrome.execute_script(f"const c = {cell(host, condition)};"
                                  "return [c, c.querySelector('.badge')].map(e => getComputedStyle(e).backgroundColor)")
    return rgb(found[0]), rgb(found[1])


def shows_no_fleet(chrome: Chrome, board: Board) -> None:
    """The page in the browser holds no host row and no host's name."""
    assert not chrome.find_elements(By.CSS_SELECTOR, "tr.host, svg.plot")
    source = chrome.page_source
    assert not [h.name for h in board.fleet.hosts if h.name in source], source
