"""The throw-away PostgreSQL server (tests/pgserver.py) and the backend switch (tests/backend.py).

The server is real: each test database is its own, reachable over TCP on loopback and over the
unix socket. Without the server binaries a test that needs it is skipped outside CI and fails
under CI=true; the PostgreSQL run deselects SQLite-only tests with their reason without failing
the CI gate, and a sqlite_only marker without a reason is refused.
"""

from __future__ import annotations

import psycopg
import pytest

from tests import backend, pgserver
from tests.pgserver import PgServer

NEEDS_SERVER = "def test_needs_server(pg_server):\n    pass\n"
SQLITE_ONLY = """
import pytest

@pytest.mark.sqlite_only("reads the WAL file")
def test_wal():
    pass

def test_any_backend():
    pass
"""


def test_each_test_database_is_fresh_and_its_own(pg_server: PgServer) -> None:
    first, second = pg_server.create_database(), pg_server.create_database()
    with psycopg.connect(pg_server.url(first)) as conn:
        conn.execute("CREATE TABLE mine (x INTEGER)")
    with psycopg.connect(pg_server.socket_url(second)) as conn:
        tables = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
        assert conn.execute("SHOW fsync").fetchone() == ("off",)
    assert tables == []
    assert pg_server.url(first).startswith("postgresql://axis@127.0.0.1:")


def test_pg_url_is_a_database_of_its_own(pg_url: str, pg_server: PgServer) -> None:
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT current_database()").fetchone() != ("postgres",)
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone() == (0,)


@pytest.fixture
def no_binaries(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """The suite's conftest in pytester (run in-process), on a machine where no binaries are found."""
    from tests.test_ci_gate import ROOT

    def missing() -> None:
        raise pgserver.PgUnavailable("no PostgreSQL server binaries here")

    monkeypatch.setattr(pgserver, "find_bindir", missing)
    pytester.makeconftest((ROOT / "tests" / "conftest.py").read_text())
    pytester.makepyfile(test_needs=NEEDS_SERVER)
    return pytester


def test_missing_binaries_fail_under_ci(no_binaries: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    result = no_binaries.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*PostgreSQL unavailable: no PostgreSQL server binaries here*"])


def test_missing_binaries_skip_outside_ci_unless_postgresql_was_asked_for(
        no_binaries: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(backend, "BACKEND", "sqlite")
    no_binaries.runpytest("-p", "no:cacheprovider").assert_outcomes(skipped=1)
    monkeypatch.setattr(backend, "BACKEND", "postgresql")
    no_binaries.runpytest("-p", "no:cacheprovider").assert_outcomes(errors=1)


def test_postgresql_run_deselects_sqlite_only_tests_and_says_why(pytester: pytest.Pytester,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.test_ci_gate import ROOT

    pytester.makeconftest((ROOT / "tests" / "conftest.py").read_text())
    pytester.makepyfile(test_marked=SQLITE_ONLY)
    monkeypatch.setenv("CI", "true")
    monkeypatch.setattr(backend, "BACKEND", "sqlite")
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)
    monkeypatch.setattr(backend, "BACKEND", "postgresql")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, deselected=1)
    assert result.ret == pytest.ExitCode.OK  # the SQLite run of the same CI runs it
    result.stdout.fnmatch_lines([f"1 deselected as {backend.SQLITE_ONLY}"])


def test_sqlite_only_needs_a_reason(pytester: pytest.Pytester) -> None:
    from tests.test_ci_gate import ROOT

    pytester.makeconftest((ROOT / "tests" / "conftest.py").read_text())
    pytester.makepyfile(test_bare="import pytest\n\n@pytest.mark.sqlite_only\ndef test_x():\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*sqlite_only needs a reason*"])
