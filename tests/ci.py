"""No test passes by being skipped under CI.

Outside CI a machine without root, debootstrap or namespaces skips the host tests with the
reason. Under CI=true (`.ci/run` exports it) every such skip is a failure: the helpers below
fail instead of skipping, and `ci_skip_is_failure` (the `pytest_runtest_makereport` wrapper
that tests/conftest.py installs) turns any other skip in the suite into a failure too, so a run
that skipped tests can never look green. CI's machine is the one `.ci/run` builds (Debian,
root, shellcheck installed): there every test's precondition holds.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterable
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.sshhosts import TestHost


def under_ci() -> bool:
    """CI sets CI=true (.ci/run exports it itself); there no host test may be skipped."""
    return os.environ.get("CI") == "true"


def harness_unavailable(reason: str) -> None:
    """Skip, or fail under CI (where a silently skipped integration suite would hide bugs)."""
    if under_ci():
        pytest.fail(f"test hosts unavailable under CI=true: {reason}", pytrace=False)
    pytest.skip(f"test hosts unavailable: {reason}")


def require_systemd(hosts: Iterable[TestHost], why: str) -> None:
    """For tests that need systemd as PID 1 in the hosts: the harness falls back to an
    sshd-only init where systemd cannot boot, and such a test cannot run there."""
    fallback = sorted(h.name for h in hosts if h.init != "systemd")
    if fallback:
        harness_unavailable(f"{why}: {', '.join(fallback)} booted without systemd (init=sshd-only)")


@pytest.hookimpl(wrapper=True)
def ci_skip_is_failure(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """`pytest_runtest_makereport` wrapper: under CI=true a skipped test is a failed one,
    whatever skipped it (a helper, a marker, a plain `pytest.skip` added later)."""
    report: pytest.TestReport = yield
    if report.skipped and under_ci() and not hasattr(report, "wasxfail"):
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, where every test must run: {reason.removeprefix('Skipped: ')}"
    return report
