"""CI cannot go green on skipped tests, and plain `pytest` collects what `python -m pytest` does.

The hook (tests/ci.py, installed by tests/conftest.py) is run for real through pytester on
generated tests that skip in every way pytest offers; the conftest used is the suite's own.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent

SKIPPING_TESTS = """
import pytest

from tests.ci import harness_unavailable, require_systemd


class Host:
    def __init__(self, name, init):
        self.name, self.init = name, init


def test_passes():
    pass


def test_skip_in_body():
    pytest.skip("no hosts here")


@pytest.mark.skipif(True, reason="a marker's skip")
def test_skipif_marker():
    pass


@pytest.fixture
def hosts():
    pytest.skip("a fixture's skip")


def test_fixture_skips(hosts):
    pass


def test_harness_unavailable():
    harness_unavailable("not root")


def test_host_without_systemd():
    require_systemd([Host("h1", "sshd-only"), Host("h2", "systemd")], "needs systemctl")


def test_hosts_with_systemd():
    require_systemd([Host("h1", "systemd")], "needs systemctl")


@pytest.mark.xfail(reason="an expected failure is not a skip", strict=True)
def test_expected_failure():
    assert False
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    """The generated tests beside a copy of the suite's real tests/conftest.py."""
    pytester.makeconftest((ROOT / "tests" / "conftest.py").read_text())
    pytester.makepyfile(test_generated=SKIPPING_TESTS)
    return pytester


def test_under_ci_every_skip_fails_the_run(suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    result = suite.runpytest("-p", "no:cacheprovider", "-rA")
    # body skips and the helpers fail in the call; a marker's or a fixture's skip fails in setup.
    result.assert_outcomes(passed=2, failed=3, errors=2, xfailed=1, skipped=0)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([
        "ERROR *::test_skipif_marker - skipped under CI=true*: a marker's skip",
        "ERROR *::test_fixture_skips - skipped under CI=true*: a fixture's skip",
        "FAILED *::test_skip_in_body - skipped under CI=true*: no hosts here",
    ])
    out = result.stdout.str()
    assert "test hosts unavailable under CI=true: not root" in out
    assert "needs systemctl: h1 booted without systemd (init=sshd-only)" in out
    assert "h2" not in out.split("needs systemctl:", 1)[1].splitlines()[0]


@pytest.mark.parametrize("ci", [None, "false", "1"])
def test_outside_ci_skips_stay_skips(suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ci: str | None) -> None:
    """Only the exact CI=true (what .ci/run and the common CI services set) turns skips into failures."""
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    result = suite.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, skipped=5, xfailed=1)
    assert result.ret == pytest.ExitCode.OK


LEFT_OUT = {
    "module_skip": "import pytest\npytest.skip('no hosts here', allow_module_level=True)\ndef test_never():\n    pass\n",
    "importorskip": "import pytest\npytest.importorskip('axis_no_such_module')\ndef test_never():\n    pass\n",
    "imperative_xfail": "import pytest\ndef test_gives_up():\n    pytest.xfail('known broken')\n",
    "xfail_failing": "import pytest\n@pytest.mark.xfail(reason='known broken')\ndef test_fails():\n    assert False\n",
    "xfail_passing": "import pytest\n@pytest.mark.xfail(reason='known broken')\ndef test_passes():\n    pass\n",
}


@pytest.fixture
def gate(pytester: pytest.Pytester) -> pytest.Pytester:
    """The suite's conftest and the suite's own `xfail_strict`, read from pyproject.toml."""
    import tomllib

    options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    pytester.makeini(f"[pytest]\nxfail_strict = {str(options['xfail_strict']).lower()}\n")
    pytester.makeconftest((ROOT / "tests" / "conftest.py").read_text())
    pytester.makepyfile(test_runs="def test_runs():\n    pass\n")
    return pytester


@pytest.mark.parametrize("case", sorted(LEFT_OUT))
def test_under_ci_no_way_of_leaving_a_test_out_exits_0(gate: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                                     case: str) -> None:
    """Each of these exited 0 under CI=true when only test reports were checked: a module that
    skips itself while collected, `importorskip`, `pytest.xfail()` in a test, an @xfail test
    that fails (strict or not) or passes (pyproject's xfail_strict)."""
    gate.makepyfile(**{f"test_{case}": LEFT_OUT[case]})
    monkeypatch.setenv("CI", "true")
    result = gate.runpytest("-p", "no:cacheprovider", "-rA")
    assert result.ret != pytest.ExitCode.OK, result.stdout.str()
    assert result.parseoutcomes().get("skipped", 0) == 0
    monkeypatch.delenv("CI")
    outside = gate.runpytest("-p", "no:cacheprovider")
    # outside CI only a passing @xfail test fails (xfail_strict): the rest skip or xfail as asked.
    assert (outside.ret == pytest.ExitCode.OK) == (case != "xfail_passing"), outside.stdout.str()


def test_under_ci_a_module_skip_and_an_imperative_xfail_say_why(gate: pytest.Pytester,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    gate.makepyfile(test_a=LEFT_OUT["module_skip"], test_b=LEFT_OUT["imperative_xfail"],
                    test_c=LEFT_OUT["xfail_failing"])
    monkeypatch.setenv("CI", "true")
    result = gate.runpytest("-p", "no:cacheprovider", "--continue-on-collection-errors", "-rA")
    result.assert_outcomes(passed=1, failed=1, errors=1, xfailed=1)
    result.stdout.fnmatch_lines([
        "CI=true: tests were left out (1 xfailed); every test must run and pass",
        "*collection skipped under CI=true, where every test must run: no hosts here*",
        "*pytest.xfail() called under CI=true, where every test must pass: known broken*",
    ])
    assert result.ret == pytest.ExitCode.TESTS_FAILED


DROPPER = """
def pytest_collection_modifyitems(items):
    items[:] = [item for item in items if "dropped" not in item.name]
"""


@pytest.mark.parametrize("how", [("-k", "not other"), ("--deselect", "test_two.py::test_other"), ("hook",)])
def test_tests_deselected_or_dropped_fail_under_ci_only(gate: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                                        how: tuple[str, ...]) -> None:
    """`-k`/`--deselect` are a developer's tools and stay green outside CI; under CI=true they,
    and a hook that silently drops collected tests, fail the run."""
    gate.makepyfile(test_two="def test_kept():\n    pass\n\ndef test_other():\n    pass\n")
    args: tuple[str, ...] = how
    if how == ("hook",):
        gate.makepyfile(test_two="def test_kept():\n    pass\n\ndef test_dropped():\n    pass\n")
        sub = gate.mkpydir("more")
        (sub / "conftest.py").write_text(DROPPER)
        (sub / "test_more.py").write_text("def test_also():\n    pass\n")
        args = ()
    monkeypatch.delenv("CI", raising=False)
    outside = gate.runpytest("-p", "no:cacheprovider", *args)
    outside.assert_outcomes(passed=3 if how == ("hook",) else 2)
    assert outside.ret == pytest.ExitCode.OK
    monkeypatch.setenv("CI", "true")
    result = gate.runpytest("-p", "no:cacheprovider", *args)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    expected = "1 dropped after collection" if how == ("hook",) else "1 deselected, 1 dropped after collection"
    result.stdout.fnmatch_lines([f"CI=true: tests were left out ({expected}); every test must run and pass"])


def test_ci_script_exports_ci_true_before_running_the_tests() -> None:
    """.ci/run runs exactly the README's two test commands after exporting CI=true: every test on
    SQLite, then the unit tests on PostgreSQL."""
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert "export CI=true" in lines
    runs = [i for i, line in enumerate(lines) if "pytest" in line and not line.startswith("#")]
    assert runs and lines.index("export CI=true") < runs[0]
    assert [lines[i] for i in runs] == [
        "python3 -m pytest -q || status=1",
        "AXIS_TEST_BACKEND=postgresql python3 -m pytest -q --ignore=tests/integration || status=1"]
    readme = (ROOT / "README.md").read_text()  # the README shows the same two commands, each a line of its own
    assert "```sh\n" + "".join(lines[i].removesuffix(" || status=1") + "\n" for i in runs) + "```" in readme


def test_plain_pytest_collects_the_modules_that_import_tests_helpers(tmp_path: Path) -> None:
    """`pytest` (the console script) puts only tests/ on sys.path, not the repository root:
    pyproject's `pythonpath` must add the root, or every `from tests.x import` module fails."""
    pytest_script = Path(sys.executable).with_name("pytest")
    modules = ["tests/test_transport.py", "tests/test_apply_store.py", "tests/integration/test_harness.py"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([str(pytest_script), "--collect-only", "-q", "-p", "no:cacheprovider", *modules],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "error" not in proc.stdout.lower().splitlines()[-1]


def test_hypothesis_draws_the_same_examples_on_every_run() -> None:
    """The suite's hypothesis profile (tests/conftest.py): derandomized, no deadline, inherited by
    a test's own @settings, so a fuzz failure reproduces and no run passes or fails by luck."""
    own = settings(max_examples=300)
    assert own.derandomize is True and own.deadline is None

    def one_run() -> list[str]:
        drawn: list[str] = []

        @settings(max_examples=25)
        @given(st.text())
        def draw(text: str) -> None:
            drawn.append(text)
        draw()
        return drawn

    seen = [one_run(), one_run()]
    assert seen[0] == seen[1] and len(set(seen[0])) > 5
