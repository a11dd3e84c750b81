"""The git follower on a real local repository (file://) and a real state DB, storing through the
controller's own store; the host passes are played by the test (`host_done`). What each commit
does to the stored objects, the source's status and history, and the revision in force. The same
paths on real SSH hosts: tests/integration/test_gitops.py."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlmodel import select

from axis.drivers.connector import SshOptions
from axis.reconcile import git_follow
from axis.reconcile.controller import Controller
from axis.reconcile.git_follow import GitFollower
from axis.reconcile.git_revision import GitSource
from axis.sources.git import GitRemote
from axis.state import Database
from axis.state.conditions import conditions_of
from axis.state.events import list_events
from axis.state.sources import recent_attempts, set_suspended, source_row
from axis.state.tables import DesiredObject
from tests.gitrepo import Repo

HOST = "apiVersion: axis/v1\nkind: Host\nmetadata: {{name: {name}}}\nspec: {{address: {name}.example}}\n"
BROKEN = "apiVersion: axis/v1\nkind: Host\nmetadata: {name: x}\nspec: {address: x.example, bogus: 1}\n"


def _follower(db: Database, repo: Repo, cache: Path) -> GitFollower:
    """A controller following `repo` (its store is the real one); registered as at its start."""
    source = GitSource("fleet", GitRemote(f"file://{repo.root}", "main"), "specs", 60.0, cache)
    controller = Controller(db, SshOptions(), None, follow=source)
    controller.load_watched()
    assert controller.follower is not None
    return controller.follower


@pytest.fixture
def follow(tmp_path, state_db):
    repo = Repo(tmp_path / "repo")
    db = Database(state_db)
    return repo, db, _follower(db, repo, tmp_path / "cache")


def _stored(db: Database) -> dict[str, tuple[str, str]]:
    """Stored hosts: name → (the file it came from, its apply set)."""
    with db.read() as session:
        return {r.name: (r.source_path, r.apply_set) for r in session.exec(select(DesiredObject)).all()}


def _conditions(db: Database) -> dict[str, tuple[str, str]]:
    with db.read() as session:
        return {c.type: (c.status, c.reason) for c in conditions_of(session, "Source", "fleet")}


def _ready_message(db: Database) -> str:
    with db.read() as session:
        return next(c.message for c in conditions_of(session, "Source", "fleet") if c.type == "Ready")


def _history(db: Database) -> list[tuple[str, str]]:
    with db.read() as session:
        return [(a.revision, a.result) for a in reversed(recent_attempts(session, "fleet", 10))]


def _applied(db: Database) -> str:
    with db.read() as session:
        row = source_row(session, "fleet")
        assert row is not None
        return row.last_applied


def test_a_commit_is_stored_under_the_source_and_ready_once_its_hosts_converged(follow):
    repo, db, follower = follow
    first = repo.commit({"specs/a.yaml": HOST.format(name="a"), "specs/b.yaml": HOST.format(name="b")})
    asyncio.run(follower.poll())
    assert _stored(db) == {"a": ("specs/a.yaml", "git:fleet"), "b": ("specs/b.yaml", "git:fleet")}
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
    assert calls == [] and len(_history(db)) == 1


def test_a_file_gone_from_the_repo_prunes_its_object_and_an_empty_revision_is_refused(follow):
    repo, db, follower = follow
    repo.commit({"specs/a.yaml": HOST.format(name="a"), "specs/b.yaml": HOST.format(name="b")})
    asyncio.run(follower.poll())
    second = repo.commit({"specs/b.yaml": None})
    asyncio.run(follower.poll())
    assert set(_stored(db)) == {"a"} and _applied(db) == f"main@sha1:{second}"
    empty = repo.commit({"specs/a.yaml": None, "specs/README.md": "nothing here\n"})
    asyncio.run(follower.poll())
    assert set(_stored(db)) == {"a"} and _applied(db) == f"main@sha1:{second}"
    assert _conditions(db)["Stalled"] == ("True", "SpecInvalid")
    assert _ready_message(db).startswith(f"main@sha1:{empty}: specs: no objects")


def test_a_broken_commit_stalls_the_last_good_stays_and_the_next_commit_recovers(follow):
    repo, db, follower = follow
    good = repo.commit({"specs/a.yaml": HOST.format(name="a")})
    asyncio.run(follower.poll())
    follower.host_done("a", good, changed=True, failed=False)
    broken = repo.commit({"specs/broken.yaml": BROKEN})
    asyncio.run(follower.poll())
    assert set(_stored(db)) == {"a"} and _applied(db) == f"main@sha1:{good}"
    assert _conditions(db) == {"Ready": ("False", "SpecInvalid"), "Stalled": ("True", "SpecInvalid"),
                               "Reconciling": ("False", "SpecInvalid")}
    assert _ready_message(db).startswith(f"main@sha1:{broken}: specs/broken.yaml:4: Host/x: spec.bogus")
    assert _ready_message(db).endswith(f"in force: main@sha1:{good}")
    asyncio.run(follower.poll())  # the same broken commit is not tried again
    assert [r for _, r in _history(db)] == ["Converged", "SpecInvalid"]

    fixed = repo.commit({"specs/broken.yaml": None, "specs/b.yaml": HOST.format(name="b")})
    asyncio.run(follower.poll())
    assert _applied(db) == f"main@sha1:{fixed}" and _conditions(db)["Stalled"][0] == "False"
    follower.host_done("b", fixed, changed=False, failed=True)
    assert [r for _, r in _history(db)] == ["Converged", "SpecInvalid", "HostsFailed"]
    assert _conditions(db)["Ready"] == ("False", "HostsFailed")
    follower.host_done("b", fixed, changed=True, failed=False)  # level-triggered: b's next pass converged
    assert _conditions(db)["Ready"] == ("True", "Succeeded")
    assert [r for _, r in _history(db)] == ["Converged", "SpecInvalid", "HostsFailed"]  # history stays
    follower.host_done("a", fixed, changed=False, failed=True)  # drift repair failing later
    assert _conditions(db)["Ready"] == ("False", "HostsFailed")
    follower.host_done("other", fixed, changed=False, failed=True)  # not the source's host: not counted
    assert "other" not in _ready_message(db)


def test_a_new_commit_supersedes_hosts_still_converging_and_a_rewind_is_applied_and_said(follow):
    repo, db, follower = follow
    first = repo.commit({"specs/a.yaml": HOST.format(name="a")})
    asyncio.run(follower.poll())
    second = repo.commit({"specs/b.yaml": HOST.format(name="b")})
    asyncio.run(follower.poll())
    follower.host_done("a", first, changed=True, failed=False)  # a pass that planned the old commit: not counted
    assert [r for _, r in _history(db)] == ["Superseded", "Progressing"]
    repo.git("reset", "-q", "--hard", first)
    asyncio.run(follower.poll())
    assert _applied(db) == f"main@sha1:{first}" and set(_stored(db)) == {"a"}
    with db.read() as session:
        newest = recent_attempts(session, "fleet", 1)[0]
    assert newest.note == f"not a descendant of main@sha1:{second}: the ref was force-pushed or rewound"


def test_a_restarted_controller_ends_the_open_attempt_and_rechecks_the_revision_in_force(follow, tmp_path):
    repo, db, follower = follow
    sha = repo.commit({"specs/a.yaml": HOST.format(name="a"), "specs/b.yaml": HOST.format(name="b")})
    asyncio.run(follower.poll())
    follower.host_done("a", sha, changed=True, failed=False)  # b had not finished when it stopped
    again = _follower(db, repo, tmp_path / "cache")
    assert _history(db) == [(f"main@sha1:{sha}", "Interrupted")]
    again.host_done("a", sha, changed=False, failed=False)  # a passed before the first poll
    asyncio.run(again.poll())
    assert _history(db)[-1] == (f"main@sha1:{sha}", "Progressing")  # waits for b, not a
    assert _conditions(db)["Ready"] == ("Unknown", "Progressing")
    again.host_done("b", sha, changed=False, failed=False)
    assert _history(db)[-1] == (f"main@sha1:{sha}", "Converged")
    with db.read() as session:
        assert recent_attempts(session, "fleet", 1)[0].note == "controller restarted: the revision in force, re-checked"


def test_a_store_that_fails_ends_its_attempt_and_supersedes_nothing(follow, monkeypatch):
    repo, db, follower = follow
    first = repo.commit({"specs/a.yaml": HOST.format(name="a")})
    asyncio.run(follower.poll())
    repo.commit({"specs/b.yaml": HOST.format(name="b")})

    def refuse(loaded, apply_set, revision):
        raise RuntimeError("database is locked")

    monkeypatch.setattr(follower, "store", refuse)
    with pytest.raises(RuntimeError):
        asyncio.run(follower.poll())
    assert [r for _, r in _history(db)] == ["Progressing", "Failed"]
    assert _applied(db) == f"main@sha1:{first}"
    follower.host_done("a", first, changed=False, failed=False)  # the first attempt still counts its hosts
    assert [r for _, r in _history(db)] == ["Converged", "Failed"]


def test_an_unreachable_remote_backs_off_and_keeps_the_revision_in_force(follow, tmp_path, monkeypatch):
    repo, db, follower = follow
    first = repo.commit({"specs/a.yaml": HOST.format(name="a")})
    asyncio.run(follower.poll())
    repo.root.rename(tmp_path / "gone")
    monkeypatch.setattr(git_follow, "FETCH_RETRY_BASE", 0.05)

    async def run_a_while() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(follower.run(stop))
        await asyncio.sleep(1.2)  # retries after 0.05, 0.1, 0.2, 0.4 s
        stop.set()
        await task

    asyncio.run(run_a_while())
    assert _conditions(db)["Ready"] == ("False", "FetchFailed")
    assert "retry in 0.4s" in _ready_message(db) or "retry in 0.8s" in _ready_message(db)  # the delay doubles
    with db.read() as session:
        reasons = [e.reason for e in list_events(session, kind="Source", name="fleet")]
    assert reasons.count("FetchFailed") == 1  # one event for the outage, not one per retry
    assert _applied(db) == f"main@sha1:{first}" and set(_stored(db)) == {"a"}


def test_suspended_applies_nothing_shows_suspended_through_host_passes_and_resumed_goes_on(follow):
    repo, db, follower = follow
    sha = repo.commit({"specs/a.yaml": HOST.format(name="a")})
    asyncio.run(follower.poll())
    repo.commit({"specs/b.yaml": HOST.format(name="b")})
    with db.write() as session:
        assert set_suspended(session, "fleet", True, 0.0)

    async def run_a_while(seconds: float) -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(follower.run(stop))
        await asyncio.sleep(seconds)
        stop.set()
        await task

    asyncio.run(run_a_while(0.3))
    assert follower.suspended and set(_stored(db)) == {"a"}
    assert _conditions(db)["Ready"] == ("Unknown", "Suspended")
    follower.host_done("a", sha, changed=False, failed=False)  # a pass in flight ends: still Suspended
    assert _conditions(db)["Ready"] == ("Unknown", "Suspended")
    with db.write() as session:
        set_suspended(session, "fleet", False, 0.0)
    asyncio.run(run_a_while(1.5))
    assert not follower.suspended and set(_stored(db)) == {"a", "b"}
