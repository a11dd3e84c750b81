"""The leader's writes are fenced as host passes are: a controller that leads by its last tick but
whose role another controller took meanwhile (its lease ran out while it was paused; here another
member's wall clock runs a lease ahead, so the take is seen only in the DB) stores no spec revision,
binds no claim and records no job's end; nor does one whose own grant ran out. Each write
transaction checks the `leader` row (holder, token, unexpired) first and writes nothing when it
moved on; the controller logs it. Injected clocks, no waiting (as tests/test_ownership.py)."""

from __future__ import annotations

import asyncio
import logging

import pytest
from sqlmodel import select

from axis.reconcile.controller import Controller
from axis.reconcile.git_revision import GitSource
from axis.reconcile.membership import Membership
from axis.reconcile.supervisor import Part
from axis.sources.git import GitRemote
from axis.specs import Loaded
from axis.state import Database
from axis.state import jobs
from axis.state.ownership import Fenced
from axis.state.sources import recent_attempts, source_row
from axis.state.tables import ClaimStatus, DesiredObject
from tests.conftest import HOST
from tests.fake_transport import FakeConnector
from tests.gitrepo import Repo
from tests.test_controller_supervise import CLAIM
from tests.test_ownership import LEASE, Clock


def stored(db: Database) -> set[str]:
    with db.read() as session:
        return {row.name for row in session.exec(select(DesiredObject)).all()}


def overtaken(db: Database, clock: Clock) -> Membership:
    """Another controller whose wall clock runs more than a lease ahead: it finds the leader's
    row expired and takes the role, while the leader's own deadline has not passed."""
    ahead = Clock(clock.now + LEASE + 1)
    b = Membership(db, "b", lease=LEASE, clock=ahead.wall, monotonic=ahead.mono)
    b.tick()
    assert b.leader
    return b


@pytest.fixture
def leading(state_db, specs):
    """Controller `a` leads on a watched directory with one host, stored; a's clock is injected."""
    db = Database(state_db)
    clock = Clock()
    watch = specs({"h0.yaml": HOST.format(name="h0")})
    a = Membership(db, "a", lease=LEASE, clock=clock.wall, monotonic=clock.mono)
    controller = Controller(db, FakeConnector({}), watch, resync=600, membership=a)
    controller.load_watched()
    assert a.leader and stored(db) == {"h0"}
    return db, clock, watch, controller


def test_a_leader_overtaken_stores_no_spec_revision_and_logs_it(leading, caplog):
    db, clock, watch, controller = leading
    overtaken(db, clock)
    assert controller.membership.leader  # by its own last tick, it still leads
    (watch / "h1.yaml").write_text(HOST.format(name="h1"))
    with caplog.at_level(logging.WARNING):  # the edit's apply, as load_watched runs it between two ticks
        controller._periodic(Part.SPECS, controller.apply_specs)
    assert stored(db) == {"h0"}
    assert any("leader: ownership moved on: a held it with token 1, now b (token 2)" in m
               and "internal error" not in m for m in caplog.messages)


def test_a_leader_whose_grant_ran_out_stores_nothing(leading):
    db, clock, watch, controller = leading
    clock.advance(LEASE)  # paused past its deadline, no tick since
    (watch / "h1.yaml").write_text(HOST.format(name="h1"))
    with pytest.raises(Fenced, match="a does not lead"):
        controller.apply_specs()
    assert stored(db) == {"h0"}


def test_a_leader_overtaken_binds_no_claim(leading):
    db, clock, watch, controller = leading
    (watch / "job.yaml").write_text(CLAIM)
    controller.apply_specs()
    assert stored(db) == {"h0", "job"}
    overtaken(db, clock)
    controller._periodic(Part.CLAIMS, controller._place_claims)
    with db.read() as session:
        assert session.exec(select(ClaimStatus)).all() == []  # not even Pending: nothing written
    assert any(line.startswith(f"{Part.CLAIMS.value}: ") and "ownership moved on" in line
               for line in controller.supervisor.failing())


def test_a_leader_overtaken_records_no_jobs_end(leading):
    db, clock, _watch, controller = leading
    with db.write() as session:  # a job on a host no longer stored: the jobs pass would record it Lost
        jobs.add(session, job_id="job-000000000001", claim="job", host="gone", line="sleep 1", now=clock.now)
    overtaken(db, clock)
    asyncio.run(controller.job_watch._pass())
    assert any(line.startswith(f"{Part.JOBS.value}: ") and "ownership moved on" in line
               for line in controller.supervisor.failing())
    with db.read() as session:
        assert [j.job_id for j in jobs.all_running(session)] == ["job-000000000001"]


def test_a_git_leader_cancelled_after_losing_the_role_mid_revision_ends_cancelled_not_fenced(state_db, tmp_path):
    """The role is lost while a revision loads, then the follower is cancelled (its watcher ended):
    the attempt's end cannot be written (Fenced) and the next leader ends it; the cancellation,
    not that refusal, is what the follower's task ends with."""
    db = Database(state_db)
    clock = Clock()
    repo = Repo(tmp_path / "repo")
    repo.commit({"specs/h0.yaml": HOST.format(name="h0")})
    source = GitSource("fleet", GitRemote(f"file://{repo.root}", "main"), "specs", 60.0, tmp_path / "cache")
    a = Membership(db, "a", lease=LEASE, clock=clock.wall, monotonic=clock.mono)
    controller = Controller(db, FakeConnector({}), None, follow=source, resync=600, membership=a)
    controller.load_watched()
    follower = controller.follower
    assert follower is not None

    async def lost_then_cancelled(_sha: str) -> list[Loaded]:
        overtaken(db, clock)
        raise asyncio.CancelledError

    follower._load = lost_then_cancelled  # type: ignore[method-assign]
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(follower.poll())
    assert stored(db) == set()


def test_a_git_leader_overtaken_stores_no_revision_and_records_no_attempt(state_db, tmp_path):
    db = Database(state_db)
    clock = Clock()
    repo = Repo(tmp_path / "repo")
    first = repo.commit({"specs/h0.yaml": HOST.format(name="h0")})
    source = GitSource("fleet", GitRemote(f"file://{repo.root}", "main"), "specs", 60.0, tmp_path / "cache")
    a = Membership(db, "a", lease=LEASE, clock=clock.wall, monotonic=clock.mono)
    controller = Controller(db, FakeConnector({}), None, follow=source, resync=600, membership=a)
    controller.load_watched()
    assert controller.follower is not None
    asyncio.run(controller.follower.poll())  # the leader stores the first commit
    assert stored(db) == {"h0"}
    overtaken(db, clock)
    repo.commit({"specs/h1.yaml": HOST.format(name="h1")})
    with pytest.raises(Fenced):
        asyncio.run(controller.follower.poll())
    assert stored(db) == {"h0"}
    with db.read() as session:
        row = source_row(session, "fleet")
        assert row is not None and row.last_applied == f"main@sha1:{first}"
        assert [t.revision for t in recent_attempts(session, "fleet", 5)] == [f"main@sha1:{first}"]
