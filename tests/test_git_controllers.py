"""A git source followed by three controllers on one state DB (whole `Controller.run`s in one
process, fake hosts that converge): only the leader fetches and stores each commit, every
controller passes the hosts it holds, and the leader settles the revision's attempt from the
passes stored in the DB: it converges only once every host, whoever holds it, passed the new
revision, and each host's revision (`describe host`) is recorded by the controller that passed it."""

from __future__ import annotations

import asyncio
import time

from sqlmodel import select

from axis.drivers.transport import Transport
from axis.reconcile.controller import Controller
from axis.reconcile.git_revision import GitSource
from axis.reconcile.membership import Membership
from axis.sources.git import GitRemote
from axis.specs import Host
from axis.state import Database
from axis.state.ownership import holders
from axis.state.conditions import conditions_of
from axis.state.sources import recent_attempts, set_suspended
from axis.state.tables import SourcePass
from tests.fake_transport import FakeTransport
from tests.gitrepo import Repo
from tests.test_claims_exec import DEBIAN, FACTS_SCRIPT

NAMES = [f"h{i}" for i in range(6)]
HOST = "apiVersion: axis/v1\nkind: Host\nmetadata: {{name: {name}, labels: {{round: '{round}'}}}}\n" \
       "spec: {{address: {name}.example}}\n"


class Hosts:
    """A connector for one controller: every host answers the facts script (a pass converges);
    while `gate` is clear, connects wait for it. `passed` lists the hosts it passed."""

    def __init__(self, gate: asyncio.Event | None = None):
        self.gate, self.passed = gate, []

    async def connect(self, host: Host) -> Transport:
        if self.gate is not None:
            await self.gate.wait()
        self.passed.append(host.metadata.name)
        return FakeTransport(name=host.metadata.name).script(FACTS_SCRIPT, DEBIAN)


def commit(repo: Repo, round: int) -> str:
    sha = repo.commit({f"specs/{n}.yaml": HOST.format(name=n, round=round) for n in NAMES})
    return f"main@sha1:{sha}"


def attempts(db: Database) -> list[tuple[str, str]]:
    with db.read() as session:
        return [(a.revision, a.result) for a in reversed(recent_attempts(session, "fleet", 10))]


def revisions(db: Database) -> dict[str, str]:
    with db.snapshot() as snap:
        return {host: row.revision for host, row in snap.host_revisions().items()}


def held(db: Database) -> dict[str, str]:
    with db.read() as session:
        return {host: row.holder for host, row in holders(session, time.time()).items()}


async def until(what, seconds: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not what():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


def test_an_attempt_converges_once_every_host_passed_its_revision_whoever_holds_it(state_db, tmp_path, axis):
    db = Database(state_db)
    repo = Repo(tmp_path / "repo")
    first = commit(repo, 1)
    gate = asyncio.Event()  # c's passes wait for it
    connectors = {"a": Hosts(), "b": Hosts(), "c": Hosts(gate)}

    def controller(name: str) -> Controller:
        source = GitSource("fleet", GitRemote(f"file://{repo.root}", "main"), "specs", 0.5, tmp_path / f"cache-{name}")
        return Controller(db, connectors[name], None, follow=source, resync=600,
                          membership=Membership(db, name, lease=3.0))

    controllers = [controller(n) for n in "abc"]
    for c in controllers:
        c.load_watched()
    assert [c.membership.leader for c in controllers] == [True, False, False]

    async def scenario() -> set[str]:
        stop = asyncio.Event()
        tasks = [asyncio.create_task(c.run(stop)) for c in controllers]
        try:
            # the leader stored the commit; each controller takes its share and passes it, c's wait
            await until(lambda: set(held(db).values()) == set("abc") and
                        set(revisions(db)) == {h for h, who in held(db).items() if who != "c"})
            of_c = {h for h, who in held(db).items() if who == "c"}
            assert of_c and len(of_c) < len(NAMES)
            await asyncio.sleep(1.5)  # the leader's follower looked at the stored passes since
            assert attempts(db) == [(first, "Progressing")]  # c's hosts have not passed the revision
            gate.set()
            await until(lambda: attempts(db) == [(first, "Converged")])
            assert revisions(db) == dict.fromkeys(NAMES, first)
            assert set(connectors["c"].passed) == of_c  # c passed its own hosts, and recorded their revision
            assert not of_c & set(connectors["a"].passed)

            second = commit(repo, 2)  # every host changes: the next attempt waits for all six again
            await until(lambda: attempts(db) == [(first, "Converged"), (second, "Converged")])
            assert revisions(db) == dict.fromkeys(NAMES, second)
            with db.read() as session:
                assert {p.host: p.revision for p in session.exec(select(SourcePass)).all()} == \
                    dict.fromkeys(NAMES, second)
        finally:
            stop.set()
            gate.set()  # a pass waiting on it would hold its controller's stop up
            await asyncio.gather(*tasks)
        return of_c

    of_c = asyncio.run(scenario())
    host = sorted(of_c)[0]  # a host the leader never held: describe host names its revision
    shown = axis("describe", "host", host)
    assert shown.code == 0
    assert next(line for line in shown.out.splitlines() if line.startswith("Revision:")).split()[1] == \
        revisions(db)[host]


def test_a_controller_that_does_not_lead_stops_passing_a_suspended_source_and_writes_nothing_of_it(state_db, tmp_path):
    db = Database(state_db)
    repo = Repo(tmp_path / "repo")
    commit(repo, 1)
    source = GitSource("fleet", GitRemote(f"file://{repo.root}", "main"), "specs", 60.0, tmp_path / "cache")
    a, b = (Controller(db, Hosts(), None, follow=source, resync=600, membership=Membership(db, n, lease=3.0))
            for n in "ab")
    a.load_watched()
    b.load_watched()
    assert a.membership.leader and not b.membership.leader
    with db.write() as session:
        set_suspended(session, "fleet", True, time.time())
    b._notice_stored()  # raises if it wrote the source's status through the leader's fenced DB
    assert b.source.suspended and not b.supervisor.failing()
    a._notice_stored()
    with db.read() as session:
        assert {c.type: c.reason for c in conditions_of(session, "Source", "fleet")}["Ready"] == "Suspended"
