"""A bare mirror of the one ref a source follows, and snapshots of its commits.

The loop asks `GitMirror.remote_head` every interval (one ``git ls-remote`` round trip, no
objects), fetches only when the answer moved, and applies from `GitMirror.snapshot`: the
commit's files written read-only by object id, which nothing edits afterwards. The mirror's
layout under ``cache``: ``mirror.git`` (bare repository), ``snapshots/<sha>-<path hash>/``,
and ``askpass`` when the URL carries a credential.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Sequence
from pathlib import Path

from axis.sources.git_process import GitError, GitResult, git_env, one_line, run_git
from axis.sources.git_remote import ASKPASS_SCRIPT, GitRemote, is_sha, short_ref
from axis.sources.git_snapshot import TEMP_PREFIX, build_snapshot, remove_tree, repo_path, snapshot_name

__all__ = ["GitError", "GitMirror", "GitRemote"]

#: Where the mirror keeps the fetched commit: one ref, moved (forced) by every fetch.
MIRROR_REF = "refs/axis/fetched"
#: A half-built snapshot older than this was left by a process that died; prune removes it.
STALE_TEMP_S = 3600.0


class GitMirror:
    """A bare mirror of one remote ref under ``cache`` (created on first use).

    Every git command runs under ``timeout`` seconds; a failure raises `GitError` whose message
    names the remote by its display URL only. One mirror serves one source; its calls are
    meant to run one at a time (the source's loop), though two processes sharing ``cache``
    (a controller handing over) only ever see whole snapshots.
    """

    def __init__(self, remote: GitRemote, cache: Path, *, timeout: float = 60.0):
        self.remote = remote
        self.cache = cache
        self.timeout = timeout
        self.repo = cache / "mirror.git"
        self.snapshots = cache / "snapshots"
        self._askpass = cache / "askpass"
        self._env = git_env({"GIT_SSH_COMMAND": remote.ssh_command(), **remote.credential_env(self._askpass)})
        self._ready = False
        self._full_ref: str | None = None  # what `ref` named at the last remote_head

    async def remote_head(self) -> str:
        """The commit the remote's ref names now (a tag peeled to its commit): one ls-remote.

        FetchFailed if the remote cannot be reached or read, the ref does not exist, or a short
        name is both a branch and a tag (name it refs/heads/… or refs/tags/… then).
        """
        await self._ensure()
        candidates = self.remote.candidate_refs()
        patterns = [p for ref in candidates for p in (ref, f"{ref}^{{}}")]
        where = self.remote.display_url()
        result = await self._git(["ls-remote", "--", self.remote.git_url(), *patterns], what=f"ls-remote {where}")
        found = {}
        for line in result.stdout.decode("utf-8", errors="replace").splitlines():
            sha, _, name = line.partition("\t")
            found[name] = sha
        hits = [ref for ref in candidates if ref in found]
        if not hits:
            raise GitError("FetchFailed", f"ls-remote {where}: no ref {self.remote.ref!r}")
        if len(hits) > 1:
            raise GitError("FetchFailed", f"ls-remote {where}: {self.remote.ref!r} is both a branch and a tag; "
                                          f"give refs/heads/{self.remote.ref} or refs/tags/{self.remote.ref}")
        self._full_ref = hits[0]
        sha = found.get(f"{hits[0]}^{{}}", found[hits[0]])
        if not is_sha(sha):
            raise GitError("FetchFailed", f"ls-remote {where}: unexpected object name {sha[:80]!r}")
        return sha

    async def fetch(self) -> str:
        """Fetch the ref into the mirror (forced: a rewound branch is taken as it now is).

        Returns the commit fetched, which may be newer than the last remote_head if the ref
        moved in between. The ref is resolved with remote_head first if it never was.
        """
        if self._full_ref is None:
            await self.remote_head()
        assert self._full_ref is not None
        where = self.remote.display_url()
        await self._git(["fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--no-recurse-submodules",
                         "--", self.remote.git_url(), f"+{self._full_ref}:{MIRROR_REF}"],
                        what=f"fetch {where} {short_ref(self._full_ref)}")
        result = await self._git(["rev-parse", "--verify", "--quiet", f"{MIRROR_REF}^{{commit}}"],
                                 what=f"fetch {where}: {short_ref(self._full_ref)} does not name a commit")
        return result.stdout.decode().strip()

    async def is_ancestor(self, old: str, new: str) -> bool:
        """Whether ``new`` descends from ``old`` (a fast-forward); False also when either is not in the mirror."""
        if not (is_sha(old) and is_sha(new)):
            return False
        await self._ensure()
        result = await self._git(["merge-base", "--is-ancestor", old, new], what="merge-base", ok_codes=(0, 1, 128))
        return result.code == 0

    async def verify(self, sha: str, allowed_signers: Path) -> str:
        """Check ``sha``'s SSH signature against ``allowed_signers``; return git's "Good signature" line.

        VerificationFailed, with git's reason, for an unsigned commit, a key not listed, or a
        signature that does not match the commit.
        """
        revision = self.remote.revision(sha)
        if not is_sha(sha):
            raise GitError("VerificationFailed", f"{revision}: not a commit id")
        await self._ensure()
        signers = str(allowed_signers.expanduser().absolute())
        result = await self._git(["-c", "gpg.format=ssh", "-c", f"gpg.ssh.allowedSignersFile={signers}",
                                  "verify-commit", sha], what=revision, ok_codes=tuple(range(256)))
        said = result.stderr.decode("utf-8", errors="replace")
        good = [ln.strip() for ln in said.splitlines() if ln.startswith("Good ")]
        if result.code != 0 or not good:
            raise GitError("VerificationFailed", self.remote.scrub(
                f"{revision}: {one_line(said) or 'no signature'}"))
        return good[0]

    async def snapshot(self, sha: str, path: str) -> Path:
        """An immutable, read-only directory holding ``path`` of commit ``sha``; the same one every call.

        The directory returned is ``<snapshot root>/<path>``, so ``Path(path) / f.relative_to(it)``
        is a file's name in the repo (what a SpecInvalid message should show). SpecInvalid when
        ``path`` is missing or not a directory at that commit, or holds a symlink or submodule.
        """
        if not is_sha(sha):
            raise GitError("FetchFailed", f"snapshot: {sha[:80]!r} is not a commit id")
        rel = repo_path(path)
        target = self.snapshots / snapshot_name(sha, rel)
        if not target.is_dir():
            await self._ensure()
            await build_snapshot(self._snapshot_git, sha, rel, target)
        return target / rel

    def prune_snapshots(self, keep: set[str]) -> None:
        """Delete the snapshots of every commit not in ``keep``, and half-built ones a crash left."""
        if not self.snapshots.is_dir():
            return
        now = time.time()
        for entry in self.snapshots.iterdir():
            if entry.name.startswith(TEMP_PREFIX):
                if now - entry.stat().st_mtime > STALE_TEMP_S:
                    remove_tree(entry)
            elif entry.name.partition("-")[0] not in keep:
                remove_tree(entry)

    async def _snapshot_git(self, args: Sequence[str], stdin: bytes | None,
                            ok_codes: tuple[int, ...]) -> tuple[int, bytes]:
        result = await self._git(args, what=f"snapshot {args[0]}", stdin=stdin, ok_codes=ok_codes)
        return result.code, result.stdout

    async def _git(self, args: Sequence[str], *, what: str, stdin: bytes | None = None,
                   ok_codes: tuple[int, ...] = (0,)) -> GitResult:
        return await run_git(["--git-dir", str(self.repo), *args], env=self._env, timeout=self.timeout,
                             what=what, scrub=self.remote.scrub, stdin=stdin, ok_codes=ok_codes)

    async def _ensure(self) -> None:
        """Create the cache (0700: it may hold the askpass script), the bare repo and snapshots/."""
        if self._ready:
            return
        self.cache.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.snapshots.mkdir(exist_ok=True)
        if self.remote.credential_env(self._askpass):
            _write_executable(self._askpass, ASKPASS_SCRIPT)
        if not (self.repo / "HEAD").is_file():
            temp = self.cache / f"{TEMP_PREFIX}mirror-{secrets.token_hex(4)}"
            await run_git(["-c", "init.defaultBranch=main", "init", "--bare", "--quiet", str(temp.absolute())],
                          env=self._env, timeout=self.timeout, what="init mirror")
            try:
                temp.rename(self.repo)
            except OSError:
                remove_tree(temp)
                if not (self.repo / "HEAD").is_file():
                    raise
        self._ready = True


def _write_executable(path: Path, text: str) -> None:
    """Write a 0700 script atomically (a reader never sees half of it)."""
    temp = path.with_name(f"{TEMP_PREFIX}{path.name}-{secrets.token_hex(4)}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o700)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    temp.replace(path)
