"""`axis serve` as a user starts it, in a child process (`python -m axis`) on a free loopback port:
shared by the tests of the listener (tests/test_api_serve.py) and of TLS (tests/test_serve_tls.py)."""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

Served = tuple[subprocess.Popen[str], str]


def start_serve(state: Path | str, *args: str) -> Served:
    """Start `axis serve --listen 127.0.0.1:0 ARGS` on `state`; return the process and its base URL
    (http:// or https://) once its stderr says it listens, within 30 s."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("AXIS_STATE", None)
    proc = subprocess.Popen([sys.executable, "-m", "axis", "--state", str(state), "serve", "--listen", "127.0.0.1:0",
                             *args], stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    assert proc.stderr is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stderr, selectors.EVENT_READ)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and sel.select(deadline - time.monotonic()):
            line = proc.stderr.readline()
            if not line:
                break
            found = re.search(r"listening on (https?://127\.0\.0\.1:\d+)", line)
            if found:
                return proc, found.group(1)
    proc.kill()
    raise AssertionError(f"axis serve did not start: {proc.stderr.read()}")


def stop_serve(proc: subprocess.Popen[str]) -> tuple[int, str]:
    """SIGTERM, as a service manager stops it; its exit status and the rest of its stderr."""
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    return proc.returncode, err
