"""examples/gitops: the sample repository's specs load, and its GitHub Actions workflow parses, has
its steps, runs an `axis diff` this axis accepts, and treats exit 2 as changes, not failure (its
plan step's shell runs here against a stand-in `axis`)."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from axis.cli.plan_markdown import MARKER
from axis.specs.loader import load_specs

GITOPS = Path(__file__).resolve().parent.parent / "examples" / "gitops"
WORKFLOW = GITOPS / ".github" / "workflows" / "axis-plan.yml"
STEPS = ["Check out the pull request", "Set up Python", "Install axis", "Write the SSH key and known_hosts",
         "Plan", "Post the plan on the pull request", "Keep the JSON plan", "Fail on an error"]


def _workflow() -> dict:
    return YAML(typ="safe").load(WORKFLOW.read_text())


def _step(name: str) -> dict:
    return next(s for s in _workflow()["jobs"]["plan"]["steps"] if s["name"] == name)


def test_the_specs_load_three_hosts_a_profile_and_a_claim() -> None:
    kinds = sorted((item.obj.kind, item.obj.metadata.name) for item in load_specs([GITOPS / "specs"]))
    assert kinds == [("Claim", "nightly-build"), ("Host", "build-1"), ("Host", "web-1"), ("Host", "web-2"),
                     ("HostProfile", "baseline")]


def test_the_workflow_runs_on_pull_requests_with_its_steps() -> None:
    flow = _workflow()
    assert flow["on"]["pull_request"]["paths"] == ["specs/**", ".github/workflows/axis-plan.yml"]
    assert flow["permissions"] == {"contents": "read", "pull-requests": "write"}
    assert [s["name"] for s in flow["jobs"]["plan"]["steps"]] == STEPS
    assert "axis diff -f specs -o markdown --out plan.json > plan.md" in _step("Plan")["run"]
    post = _step("Post the plan on the pull request")
    assert post["uses"].startswith("actions/github-script@") and MARKER in post["with"]["script"]
    assert "updateComment" in post["with"]["script"]  # one comment, updated on each push
    assert _step("Fail on an error")["if"] == "steps.plan.outputs.exit-code != '0' && steps.plan.outputs.exit-code != '2'"
    secrets = _step("Write the SSH key and known_hosts")["env"]
    assert secrets == {"SSH_KEY": "${{ secrets.AXIS_SSH_KEY }}", "KNOWN_HOSTS": "${{ secrets.AXIS_KNOWN_HOSTS }}"}


def test_the_diff_the_workflow_runs_is_one_this_axis_accepts(axis) -> None:
    usage = axis("diff", "--help").out
    assert "--out" in usage and "markdown" in usage


@pytest.mark.parametrize("code", [0, 2, 1])
def test_the_plan_step_records_the_exit_code_and_only_an_error_fails(tmp_path: Path, code: int) -> None:
    """The step's shell as GitHub runs it (`bash -e`), with a stand-in `axis` exiting `code`."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "axis"
    fake.write_text(f"#!/bin/sh\necho '{MARKER}'\necho 'plan' >&2\nexit {code}\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    outputs = tmp_path / "github_output"
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "GITHUB_OUTPUT": str(outputs)}
    done = subprocess.run(["bash", "-e", "-c", _step("Plan")["run"]], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr  # the step itself passes: the last step decides
    assert outputs.read_text() == f"exit-code={code}\n"
    assert (tmp_path / "plan.md").read_text() == MARKER + "\n" and "plan" in done.stderr
    assert ("::error::" in done.stdout) == (code == 1)
