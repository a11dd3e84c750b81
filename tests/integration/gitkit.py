"""A git remote for the controller's GitOps tests: a bare repo served over SSH by a test host
(git is in the hosts' base), and the test's own clone that commits and pushes to it, signing
with an SSH key when asked, exactly as a user's laptop or CI would."""

from __future__ import annotations

import os
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def _git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)}: exit {done.returncode}: {done.stderr.strip()}")
    return done.stdout.strip()


@dataclass
class Remote:
    """`url` is the bare repo on `server` as the controller reaches it (ssh://ALIAS/srv/fleet.git);
    `clone` is the test's working copy that pushes to it."""

    server: Any
    url: str
    clone: Path
    env: dict[str, str]

    def commit(self, files: dict[str, str | None], message: str, *, signing_key: Path | None = None) -> str:
        """Write (or, for None, delete) `files` in the clone and commit them; returns the commit's sha."""
        for name, text in files.items():
            path = self.clone / name
            if text is None:
                path.unlink()
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
        _git(self.clone, "add", "-A", env=self.env)
        sign = ["-c", "gpg.format=ssh", "-c", f"user.signingkey={signing_key}", "commit", "-S"] if signing_key \
            else ["commit"]
        _git(self.clone, *sign, "-q", "-m", message, env=self.env)
        return _git(self.clone, "rev-parse", "HEAD", env=self.env)

    def push(self, *, force: bool = False) -> None:
        _git(self.clone, "push", "-q", *(["--force"] if force else []), "origin", "HEAD:refs/heads/main", env=self.env)

    def rewind(self, sha: str) -> None:
        _git(self.clone, "reset", "-q", "--hard", sha, env=self.env)


def serve_repo(fleet: Any, tmp_path: Path) -> Remote:
    """A new, empty bare repo on the fleet's first host, and a clone of it under tmp_path."""
    server = fleet.hosts[0]
    server.exec("rm -rf /srv/fleet.git && mkdir -p /srv && git init -q --bare -b main /srv/fleet.git")
    url = f"ssh://{server.name}/srv/fleet.git"
    env = {**os.environ, "GIT_SSH_COMMAND": shlex.join(["ssh", "-F", str(fleet.ssh_config)]),
           "GIT_AUTHOR_NAME": "axis test", "GIT_AUTHOR_EMAIL": "test@axis.invalid",
           "GIT_COMMITTER_NAME": "axis test", "GIT_COMMITTER_EMAIL": "test@axis.invalid",
           "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null"}
    clone = tmp_path / "clone"
    clone.mkdir()
    _git(clone, "init", "-q", "-b", "main", env=env)
    _git(clone, "remote", "add", "origin", url, env=env)
    return Remote(server, url, clone, env)


def signing_key(tmp_path: Path, name: str) -> tuple[Path, str]:
    """A new ed25519 key (private key path) and its allowed-signers line."""
    key = tmp_path / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)], check=True)
    public = (tmp_path / f"{name}.pub").read_text().split()
    return key, f"test@axis.invalid namespaces=\"git\" {public[0]} {public[1]}\n"
