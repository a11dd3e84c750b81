"""A git source as the controller follows it (its settings, the apply set its objects are stored
under), and the repo's own names for the files of a revision: a spec error or an object's source
says `specs/web.yaml:4`, as the user's checkout names it, not the controller's snapshot directory."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

from axis.sources.git import GitRemote
from axis.specs import Loaded
from axis.specs.errors import SpecError
from axis.state.sources import apply_set_of


@dataclass(frozen=True)
class GitSource:
    """What `axis controller --git` was told to follow."""

    name: str
    remote: GitRemote
    path: str
    interval: float
    cache: Path
    allowed_signers: Path | None = None

    @property
    def apply_set(self) -> str:
        return apply_set_of(self.name)


def split_revision(revision: str) -> tuple[str, str]:
    """`main@sha1:0123…` → (`main`, `0123…`); ("", "") for anything else. The one parser of the
    revisions `GitRemote.revision` writes (sha1 or sha256)."""
    ref, at, rest = revision.rpartition("@")
    algo, colon, sha = rest.partition(":")
    return (ref, sha) if at and colon and algo in ("sha1", "sha256") and sha else ("", "")


def repo_relative(loaded: list[Loaded], root: Path, path: str, apply_set: str) -> list[Loaded]:
    """Say where each object came from as the repo names it (`specs/web.yaml`), not the snapshot,
    and put it in the source's apply set: the one its next revision prunes."""
    return [dataclasses.replace(item, path=_in_repo(item.path, root, path), apply_set=apply_set) for item in loaded]


def relative_error(error: SpecError, root: Path | None, path: str) -> SpecError:
    return error if root is None else dataclasses.replace(error, path=_in_repo(error.path, root, path))


def _in_repo(file: str, root: Path, path: str) -> str:
    try:
        inside = os.path.relpath(file, root)
    except ValueError:
        return file
    if inside.startswith(".."):
        return file
    return os.path.normpath(os.path.join(path, inside)) if inside != "." else os.path.normpath(path)
