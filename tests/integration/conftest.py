"""Fixtures for integration tests against real sshd test hosts (see tests/sshhosts).

`fleet` is one session-wide fleet of 3 hosts. Without root (or debootstrap, namespaces...)
these tests skip with the reason, except under CI=true where they fail: CI must run them.
Under CI=true every skip, whatever raised it, is reported as a failure (tests/ci.py), so a
run that skipped host tests can never look green.
Every test that used `fleet` is followed by `fleet.heal()`, so a fault one test injects
(stopped sshd, frozen host, new host keys) never leaks into the next test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.ci import harness_unavailable
from tests.sshhosts import Fleet, HarnessUnavailable
from tests.sshhosts.host import TestHost

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


@pytest.fixture
def fake_memory_controller(fleet: Fleet) -> Iterator[Callable[[TestHost], TestHost]]:
    """Fakes, on each host it is called with, a cgroup.controllers that lists `memory` (a bind
    mount in the host's own mount namespace) while its cgroup v2 tree still has no memory
    controller: the facts then say cgroup, and `systemd-run -p MemoryMax=` starts a unit that
    enforces nothing, the trap the runner must catch, built on a real systemd. Undone after the test."""
    faked: list[TestHost] = []

    def fake(host: TestHost) -> TestHost:
        host.exec("printf 'cpu io memory pids\\n' > /run/axis-fake-controllers && "
                  "mount --bind /run/axis-fake-controllers /sys/fs/cgroup/cgroup.controllers")
        faked.append(host)
        return host

    yield fake
    for host in faked:
        host.exec("umount /sys/fs/cgroup/cgroup.controllers; rm -f /run/axis-fake-controllers", check=False)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    timings = config.stash.get(TIMINGS, None)
    if timings:
        terminalreporter.write_line(
            "test hosts: " + ", ".join(f"{name} {secs:.2f}s" for name, secs in timings.items()))
