"""The git follower on a real local repository (file://), its store and host passes played by
the test: what each commit does to the source's status, history and the revision in force.
The same paths on real SSH hosts: tests/integration/test_gitops.py."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import pytest

from axis.reconcile import git_follow
from axis.reconcile.git_follow import GitFollower
from axis.reconcile.git_revision import GitSource
from axis.reconcile.supervisor import Supervisor
from axis.sources.git import GitRemote
from axis.specs import Loaded
from axis.state import Database
from axis.state.conditions import conditions_of
from axis.state.sources import recent_attempts, set_suspended, source_row

HOST = "apiVersion: axis/v1\nkind: Host\nmetadata: {{name: {name}}}\nspec: {{address: {name}.example}}\n"
BROKEN = "apiVersion: axis/v1\nkind: Host\nmetadata: {name: x}\nspec: {address: x.example, bogus: 1}\n"
ENV = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@axis.invalid", "GIT_COMMITTER_NAME": "t",
       "GIT_COMMITTER_EMAIL": "t@axis.invalid", "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null"}


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, env=ENV, check=True, capture_output=True, text=True).stdout.strip()


class Repo:
    def __init__(self, root: Path):
        self.root = root
        root.mkdir()
        _git(root, "init", "-q", "-b", "main")

    def commit(self, files: dict[str, str | None], message: str = "c") -> str:
        for name, text in files.items():
            if text is None:
                (self.root / name).unlink()
            else:
                (self.root / name).parent.mkdir(parents=True, exist_ok=True)
                (self.root / name).write_text(text)
        _git(self.root, "add", "-A")
        _git(self.root, "commit", "-q", "-m", message)
        return _git(self.root, "rev-parse", "HEAD")


class Stored:
    """The controller's store, played: what each revision stored, and the hosts it makes due."""

    def __init__(self) -> None:
        self.revisions: list[list[Loaded]] = []

    def __call__(self, loaded: list[Loaded], apply_set: str) -> set[str]:
        assert apply_set == "git:fleet"
        self.revisions.append(loaded)
        return {item.obj.metadata.name for item in loaded}


@pytest.fixture
def follow(tmp_path):
    repo = Repo(tmp_path / "repo")
    db = Database(tmp_path / "state.db")
    stored = Stored()
    source = GitSource("fleet", GitRemote(f"file://{repo.root}", "main"), "specs", 60.0, tmp_path / "cache")
    follower = GitFollower(db, source, Supervisor(db, follows_git=True), stored)
    follower.register()
    return repo, db, stored, follower


def _conditions(db: Database) -> dict[str, tuple[str, str]]:
    with db.read() as session:
        return {c.type: (c.status, c.reason) for c in conditions_of(session, "Source", "fleet")}


def _history(db: Database) -> list[tuple[str, str]]:
    with db.read() as session:
        return [(a.revision, a.result) for a in reversed(recent_attempts(session, "fleet", 10))]


def _applied(db: Database) -> str:
    with db.read() as session:
        row = source_row(session, "fleet")
        assert row is not None
        return row.last_applied


def test_a_commit_is_stored_then_ready_once_its_hosts_converged(follow):
    repo, db, stored, follower = follow
    first = repo.commit({"specs/a.yaml": HOST.format(name="a"), "specs/b.yaml": HOST.format(name="b")})
    asyncio.run(follower.poll())
    assert [sorted(i.path for i in r) for r in stored.revisions] == [["specs/a.yaml", "specs/b.yaml"]]
    assert _applied(db) == f"main@sha1:{first}"
    assert _conditions(db) == {"Ready": ("Unknown", "Progressing"), "Reconciling": ("True", "Progressing"),
                               "Stalled": ("False", "Progressing")}
    follower.host_done("a", first, changed=True, failed=False)
    assert _history(db) == [(f"main@sha1:{first}", "Progressing")]
    follower.host_done("b", first, changed=False, failed=False)
    assert _history(db) == [(f"main@sha1:{first}", "Converged")]
    assert _conditions(db)["Ready"] == ("True", "Succeeded") and _conditions(db)["Reconciling"][0] == "False"

    calls = []
    real = follower.mirror.fetch

    async def counted() -> str:
        calls.append(1)
        return await real()

    follower.mirror.fetch = counted  # type: ignore[method-assign]
    asyncio.run(follower.poll())  # the ref did not move: nothing fetched, stored or recorded
    assert calls == [] and len(stored.revisions) == 1 and len(_history(db)) == 1


def test_a_broken_commit_stalls_the_last_good_stays_and_the_next_commit_recovers(follow):
    repo, db, stored, follower = follow
    good = repo.commit({"specs/a.yaml": HOST.format(name="a")})
    asyncio.run(follower.poll())
    follower.host_done("a", good, changed=True, failed=False)
    broken = repo.commit({"specs/broken.yaml": BROKEN})
    asyncio.run(follower.poll())
    assert len(stored.revisions) == 1 and _applied(db) == f"main@sha1:{good}"
    assert _conditions(db) == {"Ready": ("False", "SpecInvalid"), "Stalled": ("True", "SpecInvalid"),
                               "Reconciling": ("False", "SpecInvalid")}
    with db.read() as session:
        ready = next(c for c in conditions_of(session, "Source", "fleet") if c.type == "Ready")
    assert ready.message.startswith(f"main@sha1:{broken}: specs/broken.yaml:4: Host/x: spec.bogus")
    assert ready.message.endswith(f"in force: main@sha1:{good}")
    asyncio.run(follower.poll())  # the same broken commit is not tried again
    assert [r for _, r in _history(db)] == ["Converged", "SpecInvalid"]

    fixed = repo.commit({"specs/broken.yaml": None, "specs/b.yaml": HOST.format(name="b")})
    asyncio.run(follower.poll())
    assert _applied(db) == f"main@sha1:{fixed}" and _conditions(db)["Stalled"][0] == "False"
    follower.host_done("a", fixed, changed=False, failed=False)
    follower.host_done("b", fixed, changed=False, failed=True)
    assert [r for _, r in _history(db)] == ["Converged", "SpecInvalid", "HostsFailed"]
    assert _conditions(db)["Ready"] == ("False", "HostsFailed")
    follower.host_done("b", fixed, changed=True, failed=False)  # level-triggered: b's next pass converged
    assert _conditions(db)["Ready"] == ("True", "Succeeded")
    assert [r for _, r in _history(db)] == ["Converged", "SpecInvalid", "HostsFailed"]  # history stays
    follower.host_done("a", fixed, changed=False, failed=True)  # drift repair failing later
    assert _conditions(db)["Ready"] == ("False", "HostsFailed")


def test_a_new_commit_supersedes_hosts_still_converging_and_a_rewind_is_applied_and_said(follow):
    repo, db, stored, follower = follow
    first = repo.commit({"specs/a.yaml": HOST.format(name="a")})
    asyncio.run(follower.poll())
    second = repo.commit({"specs/b.yaml": HOST.format(name="b")})
    asyncio.run(follower.poll())
    follower.host_done("a", first, changed=True, failed=False)  # a pass that planned the old commit: not counted
    assert [r for _, r in _history(db)] == ["Superseded", "Progressing"]
    _git(repo.root, "reset", "-q", "--hard", first)
    asyncio.run(follower.poll())
    assert _applied(db) == f"main@sha1:{first}" and len(stored.revisions) == 3
    with db.read() as session:
        newest = recent_attempts(session, "fleet", 1)[0]
    assert newest.note == f"not a descendant of main@sha1:{second}: the ref was force-pushed or rewound"


def test_an_unreachable_remote_backs_off_and_keeps_the_revision_in_force(follow, tmp_path, monkeypatch):
    repo, db, stored, follower = follow
    first = repo.commit({"specs/a.yaml": HOST.format(name="a")})
    asyncio.run(follower.poll())
    repo.root.rename(tmp_path / "gone")
    monkeypatch.setattr(git_follow, "FETCH_RETRY_BASE", 0.05)

    async def run_a_while() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(follower.run(stop))
        for _ in range(100):
            await asyncio.sleep(0.05)
            if _conditions(db).get("Ready", ("", ""))[1] == "FetchFailed":
                break
        stop.set()
        await task

    asyncio.run(run_a_while())
    assert _conditions(db)["Ready"] == ("False", "FetchFailed")
    assert _applied(db) == f"main@sha1:{first}" and len(stored.revisions) == 1


def test_suspended_applies_nothing_and_resumed_goes_on(follow):
    repo, db, stored, follower = follow
    repo.commit({"specs/a.yaml": HOST.format(name="a")})
    with db.write() as session:
        assert set_suspended(session, "fleet", True, 0.0)

    async def run_a_while(seconds: float) -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(follower.run(stop))
        await asyncio.sleep(seconds)
        stop.set()
        await task

    asyncio.run(run_a_while(0.3))
    assert follower.suspended and stored.revisions == []
    assert _conditions(db)["Ready"] == ("Unknown", "Suspended")
    with db.write() as session:
        set_suspended(session, "fleet", False, 0.0)
    asyncio.run(run_a_while(1.5))
    assert not follower.suspended and len(stored.revisions) == 1
