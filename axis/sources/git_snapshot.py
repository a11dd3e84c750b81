"""Snapshots: the files under one path of one commit, written read-only from the object store.

Why not ``git archive``: .gitattributes ``export-subst``/``export-ignore`` rewrite or drop files
on the way out, so the applied specs would differ from the commit. Why not a checkout: a work
tree is something someone (or a smudge filter) can change; a snapshot is the commit's blobs,
byte for byte, and never written again once renamed into place.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from axis.sources.git_process import GitError

#: A specs directory larger than this is refused rather than read into memory.
MAX_SNAPSHOT_BYTES = 64 << 20
#: Directories being built (or left by a crash) start with this; snapshots never do.
TEMP_PREFIX = ".tmp-"

#: Runs git in the mirror: (arguments, stdin, exit codes that are not an error) → (exit code, stdout).
Git = Callable[[Sequence[str], bytes | None, tuple[int, ...]], Awaitable[tuple[int, bytes]]]


@dataclass(frozen=True)
class _Entry:
    mode: int
    oid: str
    size: int
    path: PurePosixPath


def repo_path(path: str) -> PurePosixPath:
    """``path`` as a clean repo-relative path (no parts: the root); SpecInvalid if it leaves the repo."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if path.startswith("/") or ".." in parts or "\x00" in path:
        raise GitError("SpecInvalid", f"{path}: the path must be relative and inside the repo")
    return PurePosixPath(*parts)


def snapshot_name(sha: str, path: PurePosixPath) -> str:
    """``<sha>-<hash of path>``: one directory per (commit, path), found again by name."""
    return f"{sha}-{hashlib.sha256(str(path).encode()).hexdigest()[:12]}"


async def build_snapshot(git: Git, sha: str, path: PurePosixPath, target: Path) -> None:
    """Write ``path`` of commit ``sha`` to ``target`` (a fresh directory next to it, then a rename).

    ``target/<path>`` holds the files; repo-relative names in messages stay those of the repo.
    Symlinks and submodules are refused, not followed: a link could point outside the snapshot.
    """
    shown = str(path)
    spec = f"{sha}:{path}" if path.parts else f"{sha}^{{tree}}"
    code, kind = await git(["cat-file", "-t", "--", spec], None, (0, 128))
    if code != 0:
        fetched, _ = await git(["cat-file", "-e", f"{sha}^{{commit}}"], None, (0, 1, 128))
        if fetched != 0:
            raise GitError("FetchFailed", f"snapshot: commit {sha[:12]} is not in the mirror (fetch it first)")
        raise GitError("SpecInvalid", f"{shown}: no such path at {sha[:12]}")
    if kind.strip() != b"tree":
        raise GitError("SpecInvalid", f"{shown}: not a directory at {sha[:12]}")
    entries = _parse_tree((await git(["ls-tree", "-r", "-l", "-z", spec], None, (0,)))[1], path)
    total = sum(e.size for e in entries)
    if total > MAX_SNAPSHOT_BYTES:
        raise GitError("SpecInvalid", f"{shown}: {total} bytes at {sha[:12]}, over the {MAX_SNAPSHOT_BYTES >> 20} MiB limit")
    wanted = "".join(f"{e.oid}\n" for e in entries).encode()
    blobs = _parse_batch((await git(["cat-file", "--batch"], wanted, (0,)))[1], len(entries))
    temp = target.parent / f"{TEMP_PREFIX}{target.name}-{secrets.token_hex(4)}"
    try:
        (temp / path).mkdir(parents=True)
        for entry, blob in zip(entries, blobs, strict=True):
            file = temp / entry.path
            try:
                file.parent.mkdir(parents=True, exist_ok=True)
                file.write_bytes(blob)
            except (FileExistsError, IsADirectoryError, NotADirectoryError) as exc:  # a crafted tree
                raise GitError("SpecInvalid", f"{entry.path}: named twice in the tree at {sha[:12]} "
                                              f"(a file and a directory: {exc.strerror})") from exc
            file.chmod(entry.mode)
        _seal(temp)
        try:
            temp.rename(target)
        except OSError:
            if not target.is_dir():
                raise
            remove_tree(temp)  # another pass built the same snapshot first: it is identical
    except BaseException:
        remove_tree(temp)
        raise


def remove_tree(path: Path) -> None:
    """Delete a snapshot (or a half-built one): make its directories writable first."""
    if not path.exists():
        return
    for root, dirs, _files in os.walk(path):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o755)
    os.chmod(path, 0o755)
    shutil.rmtree(path)


def _seal(root: Path) -> None:
    """Directories read-only, deepest first (files were made read-only as they were written)."""
    for current, _dirs, _files in os.walk(root, topdown=False):
        os.chmod(current, 0o555)


def _parse_tree(listing: bytes, base: PurePosixPath) -> list[_Entry]:
    """``ls-tree -r -l -z`` lines → entries under ``base``; symlinks, submodules and odd names refused."""
    entries = []
    for record in listing.split(b"\0"):
        if not record:
            continue
        meta, _, raw_name = record.partition(b"\t")
        mode, kind, oid, size = meta.split()
        name = os.fsdecode(raw_name)
        shown = str(base / name)
        if mode == b"120000" or mode == b"160000":
            what = "symlink" if mode == b"120000" else "submodule"
            raise GitError("SpecInvalid", f"{shown}: a {what} in the repo is not followed")
        if kind != b"blob" or not mode.startswith(b"100"):
            raise GitError("SpecInvalid", f"{shown}: unexpected tree entry (mode {mode.decode()})")
        parts = name.split("/")
        if any(p in ("", ".", "..", ".git") for p in parts):
            raise GitError("SpecInvalid", f"{shown}: a file name git itself would refuse")
        # 100755 is executable; old tools also wrote 100664 and the like for plain files.
        readable = 0o555 if int(mode, 8) & 0o111 else 0o444
        entries.append(_Entry(readable, oid.decode(), int(size), base / name))
    return entries


def _parse_batch(output: bytes, count: int) -> list[bytes]:
    """``cat-file --batch`` output (``<oid> blob <size>\\n<bytes>\\n`` per object) → the contents."""
    blobs, pos = [], 0
    for _ in range(count):
        end = output.index(b"\n", pos)
        header = output[pos:end].split()
        if len(header) != 3 or header[1] != b"blob":
            raise GitError("FetchFailed", f"object store: {output[pos:end].decode(errors='replace')}")
        size = int(header[2])
        blobs.append(output[end + 1:end + 1 + size])
        pos = end + 1 + size + 1
    return blobs

