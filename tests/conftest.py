"""Shared fixtures: spec files in a temp dir, and the real CLI run in-process on a temp state DB."""

from __future__ import annotations

import logging
import socket
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import settings
from starlette.testclient import TestClient

from axis.api.app import build_app
from axis.app.token import default_token_path
from axis.app.context import AppContext
from axis.app.log_output import log_to_stderr
from axis.drivers.connector import Connector
from axis.main import run
from axis.state import Location
from tests.ci import ci_collect_skip_is_failure, ci_count_dropped, ci_left_out_fails_the_run, ci_skip_is_failure
from tests.servekit import Served, start_serve

#: Every hypothesis test draws the same examples on every run (derived from the test's name), so
#: a failure reproduces and CI cannot pass or fail by luck; no deadline, since a loaded machine
#: makes any example slow. A test's own @settings (max_examples...) inherits both.
settings.register_profile("axis", derandomize=True, deadline=None, database=None)
settings.load_profile("axis")

#: pytester runs pytest on generated test files (tests/test_ci_gate.py checks the CI hook so);
#: tests.backend picks the state backend (AXIS_TEST_BACKEND: the `state_db` fixture) and serves PostgreSQL.
pytest_plugins = ["pytester", "tests.backend"]

# Hooks are found by name in a conftest: under CI=true a skip anywhere in the suite is a failure.
pytest_runtest_makereport = ci_skip_is_failure
pytest_make_collect_report = ci_collect_skip_is_failure
pytest_collection_modifyitems = ci_count_dropped
pytest_sessionfinish = ci_left_out_fails_the_run


@dataclass
class Result:
    code: int
    out: str
    err: str


def write_files(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    return root


@pytest.fixture
def specs(tmp_path: Path) -> Callable[..., Path]:
    """`specs({"a.yaml": "..."})` writes files under a fresh `specs/` dir and returns it."""
    counter = iter(range(1000))

    def make(files: dict[str, str], name: str | None = None) -> Path:
        return write_files(tmp_path / (name or f"specs{next(counter)}"), files)

    return make


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port on which connections are refused at once, for as long as the test runs.

    The socket is bound (so no other process can take the port meanwhile) but never listens:
    the kernel answers a connect with RST. A well-known "unused" port (9, discard) may have a
    listener on some machine; a port freed right after choosing it may be taken by then."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


#: The bearer token of the in-process API (`client`).
API_TOKEN = "test-token-0123456789"


@pytest.fixture
def app(state_db: Path | str) -> AppContext:
    return AppContext(state=state_db)


@pytest.fixture
def client(app: AppContext) -> Iterator[TestClient]:
    """The HTTP API in-process (Starlette's TestClient) on `app`, every request with API_TOKEN."""
    with TestClient(build_app(app, API_TOKEN), headers={"Authorization": f"Bearer {API_TOKEN}"}) as c:
        yield c


@pytest.fixture
def serving(state_db: Path | str) -> Iterator[Callable[..., Served]]:
    """`serving(*args)` starts `axis serve` on the test's state DB (tests.servekit.start_serve);
    any server still running when the test ends is killed. Its token: `api_token_file`."""
    started: list[Served] = []

    def start(*args: str) -> Served:
        started.append(start_serve(state_db, *args))
        return started[-1]

    yield start
    for proc, _ in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.fixture
def api_token_file(state_db: Path | str) -> Path:
    """Where `axis serve` on the test's state DB keeps its token (beside a SQLite file; for
    PostgreSQL in the database's side directory), as axis itself finds it."""
    return default_token_path(Location.of(state_db))


@dataclass
class Axis:
    """`axis(*ARGS)` runs `axis ARGS...` in-process on a temp state DB (exit code, stdout, stderr);
    with `connector` set, every host is reached through it (fake hosts) rather than over SSH, as
    the composition root lets its caller choose."""

    state_db: Path | str
    capsys: pytest.CaptureFixture[str]
    connector: Connector | None = None

    def __call__(self, *args: str) -> Result:
        self.capsys.readouterr()
        code = run(["--state", str(self.state_db), *args], connector=self.connector)
        captured = self.capsys.readouterr()
        return Result(code, captured.out, captured.err)


@pytest.fixture
def axis(state_db: Path | str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Axis:
    """Run `axis ARGS...` in-process against a temp state DB (`Axis`)."""
    monkeypatch.delenv("AXIS_STATE", raising=False)
    return Axis(state_db, capsys)


@pytest.fixture
def stderr_log() -> Iterator[Callable[..., None]]:
    """`log_to_stderr` for one test: the `axis` and `uvicorn` loggers' handlers and levels are
    put back after it, so that no later test's stderr gets its lines."""
    saved = [(logger, logger.handlers[:], logger.level) for logger in map(logging.getLogger, ("axis", "uvicorn"))]
    yield log_to_stderr
    for logger, handlers, level in saved:
        logger.handlers[:] = handlers
        logger.setLevel(level)


@pytest.fixture
def controller_lines() -> Iterator[list[str]]:
    """The controller's log lines (`axis.reconcile.controller`, INFO and up) while the test runs,
    their messages as `axis controller` shows them after the time."""
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    logger, handler = logging.getLogger("axis.reconcile.controller"), Collect(logging.INFO)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


HOST = """
apiVersion: axis/v1
kind: Host
metadata:
  name: {name}
  labels: {{role: worker}}
spec:
  address: {name}.lan
  sudo: true
  features:
    swapfile: {{size: 32G}}
"""
