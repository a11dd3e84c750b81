"""`axis serve` as a user starts it: the listen address check, and a real uvicorn in a child
process (`python -m axis`) answering over TCP, with and without the controller loop."""

from __future__ import annotations

import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from axis.api.http_server import is_loopback, parse_listen
from axis.app.context import AppError
from axis.state import Location
from tests.servekit import ROOT, stop_serve


@pytest.mark.parametrize("listen", ["0.0.0.0:42425", "192.168.1.10:42425", "[::]:42425", "example.com:42425"])
def test_a_non_loopback_address_is_refused_without_allow_remote(listen: str, axis: Any, api_token_file: Path) -> None:
    r = axis("serve", "--listen", listen)
    assert r.code == 1
    assert f"refusing to listen on {listen}: not a loopback address" in r.err and "--allow-remote" in r.err
    assert not api_token_file.exists()  # refused before anything was made


def test_listen_addresses_are_parsed_and_classified() -> None:
    assert parse_listen("127.0.0.1:42425") == ("127.0.0.1", 42425)
    assert parse_listen("[::1]:0") == ("::1", 0)
    assert parse_listen("localhost:8080") == ("localhost", 8080)
    for bad in ("127.0.0.1", "127.0.0.1:http", ":42425", "[::1]", "127.0.0.1:70000"):
        with pytest.raises(AppError, match="expected HOST:PORT"):
            parse_listen(bad)
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.3.4.5", "::1", "localhost", "LOCALHOST"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "10.0.0.1", "example.com", "localhost.example.com"))


def test_a_real_server_needs_the_token_from_its_0600_file(serving: Any, api_token_file: Path) -> None:
    proc, url = serving()
    token_file = api_token_file
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    token = token_file.read_text().strip()
    assert httpx.get(f"{url}/health").status_code == 401
    assert httpx.get(f"{url}/health", headers={"Authorization": "Bearer wrong"}).status_code == 401
    r = httpx.get(f"{url}/health", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.json()["status"] == "ok"
    code, err = stop_serve(proc)
    assert code == 0 and "signal received: stopping" in err
    proc, url = serving()  # a restart keeps the token
    assert httpx.get(f"{url}/hosts", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert stop_serve(proc)[0] == 0


def test_watch_runs_the_controller_loop_in_the_same_process(serving: Any, tmp_path: Path, state_db: Path | str,
                                                            api_token_file: Path, closed_port: int) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "fleet.yaml").write_text("apiVersion: axis/v1\nkind: Host\nmetadata: {name: w}\n"
                                      f"spec: {{address: 127.0.0.1, port: {closed_port}}}\n")
    proc, url = serving("--watch", str(specs), "--resync", "1h")
    headers = {"Authorization": f"Bearer {api_token_file.read_text().strip()}"}
    deadline = time.monotonic() + 20
    reasons: list[str] = []
    while time.monotonic() < deadline and "Unreachable" not in reasons:  # the loop applied and tried the host
        reasons = [e["reason"] for e in httpx.get(f"{url}/events", headers=headers).json()["items"]]
        time.sleep(0.2)
    assert reasons[:2] == ["Created", "Unreachable"]
    assert [h["metadata"]["name"] for h in httpx.get(f"{url}/hosts", headers=headers).json()["items"]] == ["w"]
    if Location.of(state_db).backend == "sqlite":  # on PostgreSQL several controllers share the database
        second = subprocess.run([sys.executable, "-m", "axis", "--state", str(state_db), "controller",
                                 "--watch", str(specs)], capture_output=True, text=True, cwd=ROOT, timeout=30)
        assert second.returncode == 1 and "already running" in second.stderr  # it holds the controller lock
    code, err = stop_serve(proc)
    assert code == 0 and "stopped" in err
