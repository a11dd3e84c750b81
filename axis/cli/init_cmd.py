"""`axis init DIR`: start a GitOps repository: commented specs, `.gitignore`, the plan workflow, a README.

The files are package data (`axis/cli/init_files/`, named in pyproject's package-data), read with
importlib.resources, so an installed axis makes the same repository as a checkout and nothing
here needs the source tree's `examples/`. The workflow is the GitOps sample's own file, kept
identical by tests/test_init_cmd.py. An existing file is never overwritten: a non-empty DIR is
refused unless `--force`, which then adds only the files that are missing and names the others.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

import typer

#: Each file `axis init` writes: its name in axis/cli/init_files → where it goes in DIR. Stored
#: without leading dots: a `.gitignore` in the package would apply to axis's own tree, and
#: package-data globs skip hidden directories.
TEMPLATES: tuple[tuple[str, str], ...] = (
    ("hosts.yaml", "specs/hosts.yaml"),
    ("profiles.yaml", "specs/profiles.yaml"),
    ("claims.yaml", "specs/claims.yaml"),
    ("gitignore", ".gitignore"),
    ("axis-plan.yml", ".github/workflows/axis-plan.yml"),
    ("README.md", "README.md"),
)

#: Seconds each git command may take (a hung credential helper or file system must not hang init).
GIT_TIMEOUT = 60.0
#: Entries a directory may hold and still count as empty: a fresh clone of an empty repository.
_EMPTY_ENOUGH = frozenset({".git"})


class InitError(Exception):
    """DIR cannot take the repository; the message says which path and why. Raised before the
    first write, or on a failed write (then earlier files stay)."""


def template_text(name: str) -> str:
    """The shipped text of one template (a name from TEMPLATES' first column)."""
    return files("axis.cli").joinpath("init_files", name).read_text(encoding="utf-8")


@dataclass
class Written:
    """What `write_repository` did: files created and files left as they were (paths relative to DIR)."""

    created: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def write_repository(root: Path, force: bool) -> Written:
    """Write the templates under `root` (made if missing). Refuses a non-empty `root` unless
    `force`; even then an existing path is skipped, never overwritten. Everything that could
    stop the writing (a file where a directory must go) is checked before the first write, so
    a refusal leaves `root` as it was."""
    if root.exists() and not root.is_dir():
        raise InitError(f"{root} exists and is not a directory")
    try:
        present = sorted(p.name for p in root.iterdir()) if root.is_dir() else []
    except OSError as exc:
        raise InitError(f"{root}: cannot read the directory: {exc.strerror or exc}") from exc
    if not force and set(present) - _EMPTY_ENOUGH:
        shown = ", ".join(present[:5]) + (", ..." if len(present) > 5 else "")
        raise InitError(f"{root} is not empty ({shown}): use --force to add only the files that are missing "
                       "(no existing file is overwritten)")
    done = Written()
    for _, rel in TEMPLATES:
        target = root / rel
        blocked = next((p for p in target.parents if p != root and root in p.parents
                        and p.exists() and not p.is_dir()), None)
        if blocked is not None:
            raise InitError(f"{blocked} exists and is not a directory: {rel} cannot be written; nothing was written")
        (done.skipped if target.exists() or target.is_symlink() else done.created).append(rel)
    for name, rel in TEMPLATES:
        if rel in done.created:
            target = root / rel
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                with open(target, "x", encoding="utf-8") as out:  # "x": a file that appeared meanwhile is kept
                    out.write(template_text(name))
            except OSError as exc:
                raise InitError(f"{target}: cannot write: {exc.strerror or exc}") from exc
    return done


def git_init(root: Path) -> tuple[str, str | None]:
    """`git init` `root` when git is installed and `root` is in no repository yet: one line saying
    what happened, and a warning when `root` is below another repository's top level (GitHub would
    not run the workflow there). A failed or hung git is reported, not raised: the files are written."""
    git = shutil.which("git")
    if git is None:
        return "git not found: run `git init` here once it is installed", None
    try:
        return _git_init(git, root)
    except subprocess.TimeoutExpired as exc:
        return (f"git did not answer within {GIT_TIMEOUT:g} s ({' '.join(map(str, exc.cmd))}): "
                "run `git init` here yourself"), None


def _git_init(git: str, root: Path) -> tuple[str, str | None]:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([git, *args], cwd=root, capture_output=True, text=True, timeout=GIT_TIMEOUT,
                              stdin=subprocess.DEVNULL, check=False)

    inside = run("rev-parse", "--show-toplevel")
    if inside.returncode == 0:
        top = Path(inside.stdout.strip())
        said = f"already inside the git repository {top}: no `git init`"
        if top.resolve() == root.resolve():
            return said, None
        return said, (f"{root} is not that repository's top level: GitHub runs only the workflows in "
                      f"{top / '.github/workflows'}, and axis-plan.yml reads specs/ at the top level; move the "
                      "files there or adapt the workflow's paths")
    # `git init --initial-branch` needs git 2.28; pointing HEAD at main before the first commit
    # names the branch alike on any git
    for args in (("init", "--quiet"), ("symbolic-ref", "HEAD", "refs/heads/main")):
        made = run(*args)
        if made.returncode != 0:
            return f"git {args[0]} failed: {(made.stderr or made.stdout).strip()}", None
    return "initialised an empty git repository (branch main)", None


def init(
    directory: Path = typer.Argument(..., metavar="DIR", help="the new repository's directory (created if missing)"),
    force: bool = typer.Option(False, "--force", help="write into a non-empty DIR: add the missing files, "
                                                      "skip (never overwrite) the existing ones"),
) -> None:
    """Start a GitOps repository in DIR: commented specs, .gitignore, the CI plan workflow, a README."""
    try:
        done = write_repository(directory, force)
    except InitError as exc:  # here, not via AppError: importing axis.app would load the state layer
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    for rel in done.created:
        typer.echo(f"created  {directory / rel}")
    for rel in done.skipped:
        typer.echo(f"skipped  {directory / rel} (exists, left as it is)")
    said, warning = git_init(directory)
    typer.echo(said)
    if warning is not None:
        typer.echo(f"warning: {warning}", err=True)
    typer.echo(f"next: edit {directory / 'specs/hosts.yaml'}, then run the three commands in {directory / 'README.md'}")
