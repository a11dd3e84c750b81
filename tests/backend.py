"""Which state backend the suite runs on, and the throw-away PostgreSQL server behind it.

`AXIS_TEST_BACKEND=postgresql` runs the unit suite on PostgreSQL: the `state_db` fixture
(below; tests/conftest.py's `axis`, `app` and `client` use it) is then the URL of a fresh
database on the session's server instead of a path to a SQLite file that does not exist yet.
SQLite is the default. Tests about SQLite files
themselves (a damaged file, WAL, the flock lock files beside the DB, file modes) carry
`@pytest.mark.sqlite_only("why")`: the PostgreSQL run deselects them and says how many and
why; the SQLite run of the same CI runs them, so the CI gate (tests/ci.py) does not count them
as left out. Tests about PostgreSQL itself ask for `pg_server` / `pg_url` and run in every run.

This module is a pytest plugin (tests/conftest.py lists it in `pytest_plugins`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from axis.state import Database, Location
from axis.state.lock import ControllerLock
from axis.state.pg_locks import ControllerPresence
from tests.ci import declare_left_out, declared_left_out, under_ci
from tests.pgserver import PgServer, PgUnavailable

BACKENDS = ("sqlite", "postgresql")
#: Read once: a test must not see the backend change under it.
BACKEND = os.environ.get("AXIS_TEST_BACKEND", "sqlite") or "sqlite"
SQLITE_ONLY = "SQLite-only (about SQLite files themselves; run in the SQLite run)"


def on_postgresql() -> bool:
    return BACKEND == "postgresql"


def controller_stand_in(state: Path | str) -> ControllerLock | ControllerPresence:
    """What a running controller holds on this backend (`acquire()`/`release()`, or `with`), so
    that `axis apply`, `get controller` and `exec --detach` see one running without its loop: the
    SQLite DB's one-controller flock, or PostgreSQL's shared presence lock."""
    return ControllerPresence(state) if on_postgresql() else ControllerLock(state)


def pytest_configure(config: pytest.Config) -> None:
    if BACKEND not in BACKENDS:
        raise pytest.UsageError(f"AXIS_TEST_BACKEND={BACKEND!r}: expected one of {', '.join(BACKENDS)}")
    config.addinivalue_line("markers", "sqlite_only(reason): a test about SQLite files themselves; "
                                       "the AXIS_TEST_BACKEND=postgresql run deselects it")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every sqlite_only marker says why; on PostgreSQL those tests are deselected, declared."""
    marked = []
    for item in items:
        marker = item.get_closest_marker("sqlite_only")
        if marker is None:
            continue
        if not (marker.args and isinstance(marker.args[0], str) and marker.args[0].strip()):
            raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.sqlite_only needs a reason")
        marked.append(item)
    if on_postgresql() and marked:
        items[:] = [item for item in items if item not in marked]
        declare_left_out(config, marked, SQLITE_ONLY)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """One line for the tests this run deselected as SQLite-only, in the summary."""
    for reason, nodeids in declared_left_out(config).items():
        terminalreporter.write_line(f"{len(nodeids)} deselected as {reason}")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """The session's PostgreSQL server, started on first use and stopped when the session ends
    (failed or not). Without the server binaries: skipped outside CI, a failure under CI=true
    or when AXIS_TEST_BACKEND=postgresql asked for it."""
    try:
        server = PgServer.start()
    except PgUnavailable as exc:
        if under_ci() or on_postgresql():
            pytest.fail(f"PostgreSQL unavailable: {exc}", pytrace=False)
        pytest.skip(f"PostgreSQL unavailable: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pg_state_template(pg_server: PgServer) -> str:
    """A database at axis's schema head, made once per session by axis itself (Database opens
    and upgrades it), from which every PostgreSQL `state_db` is copied: the state a test's first
    open would make, without each test paying for the upgrade. Tests of the upgrade itself use
    `pg_url`, which stays empty."""
    name = pg_server.create_database()
    Database(pg_server.url(name)).close()  # closed: CREATE DATABASE ... TEMPLATE needs no one connected
    return name


@pytest.fixture
def pg_url(pg_server: PgServer) -> Iterator[str]:
    """The URL of a fresh database of this test's own on the session's server, dropped after
    the test (with any connection it left open: a thousand tests must not fill the server)."""
    name = pg_server.create_database()
    yield pg_server.url(name)
    pg_server.drop_database(name)


@pytest.fixture
def new_state(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Callable[[str], Path | str]]:
    """`new_state(name)`: one more state DB of this test's own, for tests that compare two
    (the CLI's and the API's): a SQLite file `<tmp>/<name>/state.db` that does not exist yet, or
    under AXIS_TEST_BACKEND=postgresql the URL of a fresh database at the schema head
    (`pg_state_template`), dropped after the test with the side directory axis made for it
    under ~/.axis/pg/."""
    made: list[str] = []

    def make(name: str) -> Path | str:
        if not on_postgresql():
            return tmp_path / name / "state.db"
        server: PgServer = request.getfixturevalue("pg_server")
        made.append(server.create_database(template=request.getfixturevalue("pg_state_template")))
        return server.url(made[-1])

    yield make
    if made:
        server = request.getfixturevalue("pg_server")
        for database in made:
            server.drop_database(database)
            shutil.rmtree(Location.of(server.url(database)).side_dir, ignore_errors=True)  # its token, git caches


@pytest.fixture
def state_db(new_state: Callable[[str], Path | str]) -> Path | str:
    """Where this test's state lives, for `--state` / AppContext / Database: a SQLite file that
    does not exist yet, or under AXIS_TEST_BACKEND=postgresql the URL of a fresh database."""
    return new_state("state")
