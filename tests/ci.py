"""No test passes by being skipped under CI.

Outside CI a machine without root, debootstrap or namespaces skips the host tests with the
reason. Under CI=true (`.ci/run` exports it) every such skip is a failure: the helpers below
fail instead of skipping, and the hooks that tests/conftest.py installs turn any other way of
not running a test into a failure too, so a run that left tests out can never look green:

- `ci_skip_is_failure` (`pytest_runtest_makereport`): a test skipped in its setup or body, or
  one that called `pytest.xfail()` itself, fails;
- `ci_collect_skip_is_failure` (`pytest_make_collect_report`): a module skipped while collected
  (`pytest.skip(allow_module_level=True)`, `pytest.importorskip`) is a collection error;
- `ci_count_dropped` (`pytest_collection_modifyitems`): tests dropped after collection (`-k`,
  `-m`, `--deselect`, another hook removing items without a word) are counted;
- `ci_left_out_fails_the_run` (`pytest_sessionfinish`): a run with skipped, xfailed (an
  `@xfail` test that failed, strict or not) or deselected tests, or dropped ones, exits
  non-zero. `-k` and `--deselect` stay for developers: all this is under CI=true only.
  The one exception is a deselection declared with its reason (`declare_left_out`): the
  SQLite-only tests in the PostgreSQL run, which the SQLite run of the same CI runs.

pyproject's `xfail_strict = true` makes an `@xfail` test that passes a failure everywhere.
CI's machine is the one `.ci/run` builds (Debian, root, shellcheck installed): there every
test's precondition holds.
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
    if not (report.skipped and under_ci()):
        return report
    if not hasattr(report, "wasxfail"):
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, where every test must run: {reason.removeprefix('Skipped: ')}"
    elif call.excinfo is not None and call.excinfo.errisinstance(pytest.xfail.Exception):
        del report.wasxfail  # a failed report that still carried it would be counted as xpassed
        report.outcome = "failed"
        report.longrepr = f"pytest.xfail() called under CI=true, where every test must pass: {call.excinfo.value}"
    return report


@pytest.hookimpl(wrapper=True)
def ci_collect_skip_is_failure(collector: pytest.Collector) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    """`pytest_make_collect_report` wrapper: under CI=true a module (or any collector) that
    skipped itself while collected is a collection error, not a quiet `s`."""
    report: pytest.CollectReport = yield
    if report.skipped and under_ci():
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        report.outcome = "failed"
        report.longrepr = (f"collection skipped under CI=true, where every test must run: "
                           f"{reason.removeprefix('Skipped: ')}")
    return report


_DROPPED = pytest.StashKey[list[str]]()
_DECLARED = pytest.StashKey[dict[str, list[str]]]()


def declare_left_out(config: pytest.Config, items: list[pytest.Item], reason: str) -> None:
    """For a hook that deselects tests this run is not for, and that another run of the same CI
    runs (the SQLite-only tests in the PostgreSQL run, tests/backend.py): they are reported as
    deselected with `reason` and are not counted as left out. Call it from the hook that
    removed them from `items`."""
    config.hook.pytest_deselected(items=items)
    config.stash.setdefault(_DECLARED, {}).setdefault(reason, []).extend(item.nodeid for item in items)


def declared_left_out(config: pytest.Config) -> dict[str, list[str]]:
    """reason → the node ids deselected with it through `declare_left_out`."""
    return config.stash.get(_DECLARED, {})


def _declared(config: pytest.Config) -> set[str]:
    return {nodeid for nodeids in declared_left_out(config).values() for nodeid in nodeids}


@pytest.hookimpl(wrapper=True, tryfirst=True)
def ci_count_dropped(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> Generator[None, None, None]:
    """`pytest_collection_modifyitems` wrapper around every other implementation: what they
    removed from `items`, said (`-k`, `--deselect`) or not, is recorded for the session's end."""
    before = list(items)
    result = yield
    kept = {id(item) for item in items}
    declared = _declared(config)
    config.stash[_DROPPED] = [item.nodeid for item in before if id(item) not in kept and item.nodeid not in declared]
    return result


def ci_left_out_fails_the_run(session: pytest.Session, exitstatus: int) -> None:
    """`pytest_sessionfinish`: under CI=true a run that left tests out (skipped, xfailed,
    deselected or dropped after collection) fails, with one line saying which and how many.
    Tests deselected through `declare_left_out` do not count (their plugin says how many)."""
    if not under_ci():
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    stats = reporter.stats if reporter is not None else {}
    left_out = {key: len(stats.get(key, [])) for key in ("skipped", "xfailed", "deselected")}
    left_out["deselected"] -= len(_declared(session.config))
    left_out["dropped after collection"] = len(session.config.stash.get(_DROPPED, []))
    shown = ", ".join(f"{count} {key}" for key, count in left_out.items() if count)
    if not shown:
        return
    if reporter is not None:
        reporter.write_line(f"CI=true: tests were left out ({shown}); every test must run and pass", red=True)
    if session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
