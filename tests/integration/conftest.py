"""Fixtures for integration tests against real sshd test hosts (see tests/sshhosts).

`fleet` is one session-wide fleet of 3 hosts. Without root (or debootstrap, namespaces...)
these tests skip with the reason, except under CI=true where they fail: CI must run them.
Under CI=true every skip, whatever raised it, is reported as a failure (tests/ci.py), so a
run that skipped host tests can never look green.
Every test that used `fleet` is followed by `fleet.heal()`, so a fault one test injects
(stopped sshd, frozen host, new host keys) never leaks into the next test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.ci import harness_unavailable
from tests.sshhosts import Fleet, HarnessUnavailable

TIMINGS = pytest.StashKey[dict[str, float]]()


@pytest.fixture(scope="session")
def fleet(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config) -> Iterator[Fleet]:
    try:
        started = Fleet.start(n=3, workdir=tmp_path_factory.mktemp("fleet"))
    except HarnessUnavailable as exc:
        harness_unavailable(exc.reason)
    pytestconfig.stash[TIMINGS] = started.timings
    yield started
    started.stop()


@pytest.fixture(autouse=True)
def _heal_hosts(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "fleet" in request.fixturenames:
        request.getfixturevalue("fleet").heal()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    timings = config.stash.get(TIMINGS, None)
    if timings:
        terminalreporter.write_line(
            "test hosts: " + ", ".join(f"{name} {secs:.2f}s" for name, secs in timings.items()))
