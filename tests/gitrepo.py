"""A git work repository on this machine for the tests of git sources: commit files (or delete
them), signed with an SSH key when asked; a mirror follows it by path or file:// URL."""

from __future__ import annotations

import subprocess
from pathlib import Path

AUTHOR = ["-c", "user.name=Dev", "-c", "user.email=dev@example.org", "-c", "commit.gpgsign=false"]


class Repo:
    def __init__(self, root: Path):
        self.root = root
        root.mkdir()
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str) -> str:
        out = subprocess.run(["git", *AUTHOR, *args], cwd=self.root, check=True, capture_output=True, text=True)
        return out.stdout.strip()

    def commit(self, files: dict[str, str | None], message: str = "change", *, sign_with: Path | None = None) -> str:
        """Write (None: delete) `files`, commit them; the new commit's sha."""
        for name, text in files.items():
            path = self.root / name
            if text is None:
                self.git("rm", "-q", name)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            self.git("add", name)
        signing = ["-c", "gpg.format=ssh", "-c", f"user.signingkey={sign_with}", "commit", "-S"] if sign_with else ["commit"]
        self.git(*signing, "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")
