"""`axis init DIR`: the repository it writes loads in `axis apply --no-converge` and `axis diff`
(the real loader, a real observation), its workflow is the GitOps sample's, its files ship in
the package, and no existing file is ever overwritten."""

from __future__ import annotations

import fnmatch
import os
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

import axis as axis_package
from axis.cli import init_cmd
from axis.cli.init_cmd import TEMPLATES, template_text, write_repository
from axis.drivers.transport import ClosedOnExit, OutputCallback, RunResult
from axis.specs import MODELS, Kind
from axis.specs.loader import load_specs
from tests.fake_transport import FakeConnector, run_here

ROOT = Path(axis_package.__file__).resolve().parent.parent
INIT_FILES = ROOT / "axis" / "cli" / "init_files"
GITOPS_WORKFLOW = ROOT / "examples" / "gitops" / ".github" / "workflows" / "axis-plan.yml"
needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


@dataclass
class ThisMachine(ClosedOnExit):
    """The host `web-1` is this machine: `axis diff` sends its facts script and probes here, as
    over SSH (diff only observes: it writes nothing, so `put` fails the test)."""

    name: str = "web-1"

    async def run(self, command: str, *, input: str | None = None, timeout: float | None = None,
                  sudo: bool = False, check: bool = False, on_output: OutputCallback | None = None) -> RunResult:
        return await run_here(["sh", "-c", command], input=input, timeout=timeout)

    async def put(self, path: str, data: bytes, *, mode: int = 0o644, sudo: bool = False,
                  expect: str | None = None) -> None:
        raise AssertionError(f"axis diff wrote {path}")

    def as_root(self, command: str) -> str:
        return command

    async def close(self) -> None:
        pass


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, timeout=30)


def test_init_writes_the_repository_and_says_what_it_did(axis, tmp_path: Path) -> None:
    repo = tmp_path / "fleet"
    r = axis("init", str(repo))
    assert r.code == 0, r.err
    assert [line.split()[1] for line in r.out.splitlines() if line.startswith("created")] == \
        [str(repo / rel) for _, rel in TEMPLATES]
    for name, rel in TEMPLATES:
        assert (repo / rel).read_text() == template_text(name)
    readme = (repo / "README.md").read_text()
    for command in ("axis apply --no-converge --dry-run -f specs", "axis diff -f specs", "axis apply -f specs"):
        assert f"\n{command} " in readme
    assert f"next: edit {repo / 'specs/hosts.yaml'}" in r.out


def test_the_specs_load_and_apply_no_converge_stores_them(axis, tmp_path: Path) -> None:
    write_repository(tmp_path, force=False)
    loaded = sorted((item.obj.kind, item.obj.metadata.name) for item in load_specs([tmp_path / "specs"]))
    assert loaded == [("Claim", "nightly-build"), ("Host", "web-1"), ("HostProfile", "baseline")]
    r = axis("apply", "--no-converge", "-f", str(tmp_path / "specs"))
    assert r.code == 0, r.err
    assert r.out.splitlines() == ["claim/nightly-build created", "host/web-1 created", "hostprofile/baseline created"]
    assert "stored 1 host, 1 host profile, 1 claim; not converged" in r.err
    r = axis("describe", "host", "web-1")
    assert r.code == 0 and "swapfile" in r.out and "earlyoom" in r.out  # its own feature and the profile's


def test_diff_observes_the_host_and_plans_without_an_error(axis, tmp_path: Path) -> None:
    """A real facts script and the features' probes, run on this machine as host web-1: exit 0
    (in sync) or 2 (changes), never 1 (a spec the planner cannot use, a probe that fails)."""
    write_repository(tmp_path, force=False)
    axis.connector = connector = FakeConnector({"web-1": ThisMachine()})
    r = axis("diff", "-f", str(tmp_path / "specs"))
    assert r.code in (0, 2), r.out + r.err
    assert connector.connected == ["web-1"] and r.out.startswith("web-1: ") and "FAILED" not in r.out


@pytest.mark.parametrize("kind, template", [(Kind.HOST, "hosts.yaml"), (Kind.HOST_PROFILE, "profiles.yaml"),
                                            (Kind.CLAIM, "claims.yaml")])
def test_every_field_of_the_kind_is_shown_with_a_comment(kind: Kind, template: str) -> None:
    """A new user reads the fields there: each of the kind's spec fields (and a claim's
    requirements) is on a line of its own, set or commented out, with a comment saying what it is."""
    spec = MODELS[kind].model_fields["spec"].annotation
    assert isinstance(spec, type)
    fields = [f.alias or name for name, f in spec.model_fields.items()]
    if kind == Kind.CLAIM:
        requires = spec.model_fields["requires"].annotation
        assert isinstance(requires, type)
        fields += [f.alias or name for name, f in requires.model_fields.items()]
    lines = template_text(template).splitlines()
    for name in fields:
        line = next((x for x in lines if x.lstrip(" #").startswith(f"{name}:")), None)
        assert line is not None and " # " in line.lstrip(" #"), (template, name)


def test_the_workflow_is_the_gitops_samples() -> None:
    """One workflow, two places: a change to examples/gitops's must be copied to init's."""
    assert template_text("axis-plan.yml") == GITOPS_WORKFLOW.read_text()


def test_the_templates_ship_in_the_package() -> None:
    """Every template is named by pyproject's package data (a wheel carries nothing else) and
    read back through importlib.resources, and no stray file sits beside them."""
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    shipped = sorted(p.name for p in INIT_FILES.iterdir())
    assert shipped == sorted(name for name, _ in TEMPLATES)
    for name in shipped:
        assert any(fnmatch.fnmatch(f"init_files/{name}", glob) for glob in package_data["axis.cli"]), name
        assert template_text(name) == (INIT_FILES / name).read_text()


def test_a_non_empty_directory_is_refused_and_left_alone(axis, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine\n")
    r = axis("init", str(tmp_path))
    assert r.code == 1
    assert r.err == f"error: {tmp_path} is not empty (notes.txt): use --force to add only the files that are " \
                    "missing (no existing file is overwritten)\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_force_adds_the_missing_files_and_never_overwrites_one(axis, tmp_path: Path) -> None:
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "hosts.yaml").write_text("# my hosts\n")
    (tmp_path / "README.md").write_text("# mine\n")
    r = axis("init", "--force", str(tmp_path))
    assert r.code == 0, r.err
    assert f"skipped  {tmp_path / 'specs/hosts.yaml'} (exists, left as it is)" in r.out.splitlines()
    assert f"skipped  {tmp_path / 'README.md'} (exists, left as it is)" in r.out.splitlines()
    assert (tmp_path / "specs" / "hosts.yaml").read_text() == "# my hosts\n"
    assert (tmp_path / "README.md").read_text() == "# mine\n"
    assert (tmp_path / "specs" / "claims.yaml").read_text() == template_text("claims.yaml")
    assert (tmp_path / ".github" / "workflows" / "axis-plan.yml").is_file()


def test_a_file_where_a_directory_must_go_stops_before_any_write(axis, tmp_path: Path) -> None:
    (tmp_path / "specs").write_text("not a directory\n")
    r = axis("init", "--force", str(tmp_path))
    assert r.code == 1
    assert r.err.startswith(f"error: {tmp_path / 'specs'} exists and is not a directory")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["specs"]


@needs_git
def test_a_new_directory_becomes_a_git_repository_whose_ignores_keep_the_state_out(axis, tmp_path: Path) -> None:
    repo = tmp_path / "fleet"
    r = axis("init", str(repo))
    assert "initialised an empty git repository (branch main)" in r.out
    assert _git(repo, "symbolic-ref", "--short", "HEAD").stdout.strip() == "main"
    state = ["fleet.db", "fleet.db-wal", "fleet.db-shm", "fleet.db.token", "fleet.db.apply.lock",
             "fleet.db.controller.lock", "fleet.db.controller.sock", "fleet.db.controller.sock.lock",
             "fleet.db.sources/main/x", "plan.json", "plan.md", "plan.err"]
    # a spec whose host name has `.db.` in it is the fleet's, not state
    kept = ["specs/hosts.yaml", "specs/pg1.db.example.net.yaml", "specs/host-pg1.db.yaml", "README.md",
            ".gitignore", ".github/workflows/axis-plan.yml"]
    ignored = _git(repo, "check-ignore", "--no-index", *state, *kept).stdout.split()
    assert ignored == state


@needs_git
def test_a_clone_of_an_empty_repository_counts_as_empty_and_is_not_initialised_again(axis, tmp_path: Path) -> None:
    _git(tmp_path, "init", "--quiet")
    r = axis("init", str(tmp_path))
    assert r.code == 0, r.err
    assert f"already inside the git repository {tmp_path}: no `git init`" in r.out
    inside = tmp_path / "sub" / "fleet"
    r = axis("init", str(inside))
    assert f"already inside the git repository {tmp_path}" in r.out and not (inside / ".git").exists()


def test_without_git_the_files_are_written_and_it_says_so(axis, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))
    r = axis("init", str(tmp_path / "fleet"))
    assert r.code == 0, r.err
    assert "git not found: run `git init` here once it is installed" in r.out
    assert not (tmp_path / "fleet" / ".git").exists() and (tmp_path / "fleet" / "specs" / "hosts.yaml").is_file()


def test_the_command_module_imports_no_state_ssh_or_yaml_layer() -> None:
    """`axis init` runs on a machine with nothing set up yet, and the CLI's start-up stays cheap."""
    probe = ("import sys, axis.cli.init_cmd; print(' '.join(m for m in sys.modules if m.split('.')[0] in "
             "{'sqlalchemy', 'sqlmodel', 'asyncssh', 'ruamel', 'pydantic'} or m.startswith(('axis.app', 'axis.state'))))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.stdout.split() == []


def _fake_git(bin_dir: Path, body: str) -> None:
    """A `git` first on PATH that runs `body` (sh) before anything else it does."""
    bin_dir.mkdir()
    script = bin_dir / "git"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)


@needs_git
def test_a_git_older_than_2_28_still_gets_branch_main(axis, tmp_path: Path, monkeypatch) -> None:
    """git < 2.28 has no `init --initial-branch` (it exits 129): HEAD is pointed at main instead."""
    real = shutil.which("git")
    _fake_git(tmp_path / "bin", 'for a in "$@"; do case $a in --initial-branch*) echo "error: unknown option '
              f"\\`$a'\" >&2; exit 129;; esac; done\nexec {real} \"$@\"")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    repo = tmp_path / "fleet"
    r = axis("init", str(repo))
    assert r.code == 0, r.err
    assert "initialised an empty git repository (branch main)" in r.out
    assert _git(repo, "symbolic-ref", "--short", "HEAD").stdout.strip() == "main"


def test_a_git_that_hangs_is_one_line_not_a_traceback(axis, tmp_path: Path, monkeypatch) -> None:
    _fake_git(tmp_path / "bin", f"exec {shutil.which('sleep')} 30")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.setattr(init_cmd, "GIT_TIMEOUT", 0.3)
    r = axis("init", str(tmp_path / "fleet"))
    assert r.code == 0, r.err
    assert f"git did not answer within 0.3 s ({tmp_path / 'bin' / 'git'} rev-parse --show-toplevel): run `git init` " \
           "here yourself" in r.out.splitlines()
    assert (tmp_path / "fleet" / "specs" / "hosts.yaml").is_file()


@needs_git
def test_a_directory_below_a_repositorys_top_level_gets_a_warning(axis, tmp_path: Path) -> None:
    """GitHub runs workflows only from the top level's .github/workflows."""
    _git(tmp_path, "init", "--quiet")
    inside = tmp_path / "fleet"
    r = axis("init", str(inside))
    assert r.code == 0, r.err
    assert f"already inside the git repository {tmp_path}: no `git init`" in r.out
    assert f"warning: {inside} is not that repository's top level: GitHub runs only the workflows in " \
           f"{tmp_path / '.github/workflows'}" in r.err
    assert "warning" not in axis("init", "--force", str(tmp_path)).err  # the top level itself: no warning
