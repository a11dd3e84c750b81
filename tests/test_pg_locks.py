"""PostgreSQL's session advisory locks (`axis.state.pg_locks`) on a real server: whether a
controller runs (`controller_holder`, which `axis apply`, `get controller` and `exec --detach`
ask) survives a lost lock connection and another database role, and the lock connections get the
same connect timeout and keepalives as the engine's."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from axis.state import Database, Location
from axis.state.controllers import Member, beat, mark_stopped
from axis.state.dbapi import LIBPQ_DEFAULTS, pg_connect_args
from axis.state.lock import ApplyLock, controller_holder, controller_pid
from axis.state.pg_locks import CONTROLLER_NAME, ControllerPresence, LockSession
from tests.pgserver import PgServer


def _end_presence_sessions(pg_url: str) -> int:
    """What a server restart, an idle timeout or a dropped NAT entry does to the presence
    connections of this process: their sessions end (how many did)."""
    with psycopg.connect(pg_url, autocommit=True) as pg:
        ended = pg.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s "
                           "AND datname = current_database()", (f"{CONTROLLER_NAME}{os.getpid()}",)).fetchall()
        deadline = time.monotonic() + 10
        while pg.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                         (f"{CONTROLLER_NAME}{os.getpid()}",)).fetchone() != (0,):
            assert time.monotonic() < deadline
            time.sleep(0.02)
    return len(ended)


def test_a_lost_presence_connection_is_taken_again_and_the_registry_covers_the_gap(
        pg_url: str, caplog: pytest.LogCaptureFixture):
    """Found in review: the presence hung on one connection never made again, so after a server
    restart `axis apply` converged the hosts itself beside live controllers. `ensure()` (at every
    membership tick) takes it again; until then a live registry row still says a controller runs."""
    db = Database(pg_url)
    with ControllerPresence(pg_url) as presence:
        assert presence.ensure() and controller_pid(pg_url) == str(os.getpid())
        assert _end_presence_sessions(pg_url) == 1
        assert controller_holder(pg_url) is None  # no registry row: the lock was all there was
        with caplog.at_level(logging.WARNING, logger="axis.state.pg_locks"):
            assert presence.ensure()
        assert "controller presence lost (its database session ended) and taken again" in caplog.text
        assert controller_pid(pg_url) == str(os.getpid())
        assert presence.ensure() and caplog.text.count("taken again") == 1  # a live session is left as it is

        started = time.time() - 30
        with db.write() as session:  # this process as a controller would register itself at its tick
            beat(session, Member("m-1-abcd", 15.0, os.getpid(), "m"), started)
            beat(session, Member("m-1-abcd", 15.0, os.getpid(), "m"), time.time())
        _end_presence_sessions(pg_url)
        holder = controller_holder(pg_url)  # the lock is gone, the live registry row answers
        assert holder is not None and holder.pid == str(os.getpid()) and holder.since == pytest.approx(started)
        with db.write() as session:
            mark_stopped(session, "m-1-abcd", time.time())
        assert controller_holder(pg_url) is None  # a controller that stopped cleanly does not count
    db.close()


def test_a_presence_whose_server_is_unreachable_is_kept_trying_not_raised(pg_url: str, caplog: pytest.LogCaptureFixture):
    Database(pg_url).close()
    presence = ControllerPresence(pg_url)
    presence.acquire()
    presence.location = Location.of(pg_url.rsplit("/", 1)[0] + "/no_such_db")  # the server refuses the new session
    _end_presence_sessions(pg_url)
    with caplog.at_level(logging.WARNING, logger="axis.state.pg_locks"):
        assert not presence.ensure()
    assert "controller presence lost, not taken again yet" in caplog.text and "does not exist" in caplog.text
    presence.location = Location.of(pg_url)
    assert presence.ensure() and controller_pid(pg_url) == str(os.getpid())
    presence.release()
    assert controller_pid(pg_url) is None


@pytest.fixture
def two_roles(pg_server: PgServer, pg_url: str) -> Iterator[tuple[str, str]]:
    """URLs of this test's database as two roles that are not superusers (nor members of
    pg_read_all_stats), as controllers and operators logging in as different users would."""
    name = pg_url.rsplit("/", 1)[1]
    roles = [f"ctl_{name}", f"op_{name}"]
    Database(pg_url).close()
    with psycopg.connect(pg_url, autocommit=True) as pg:
        for role in roles:
            pg.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
            pg.execute(sql.SQL("GRANT ALL ON ALL TABLES IN SCHEMA public TO {}").format(sql.Identifier(role)))
    try:
        yield tuple(pg_url.replace("postgresql://axis@", f"postgresql://{role}@") for role in roles)  # type: ignore[misc]
    finally:
        pg_server.drop_database(name)  # its sessions and the roles' grants in it go first
        with pg_server.connect() as pg:
            for role in roles:
                pg.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_a_controller_logged_in_as_another_role_is_seen_running(pg_url: str, two_roles: tuple[str, str]):
    """Found in review: pg_stat_activity's backend_start is NULL for another role's session, and
    `controller_holder` crashed on it (float(None)), so `axis apply` and `get controller` failed
    whenever controllers and operators log in as different roles. The pid is application_name's;
    "since" is the registry's `started`, unknown until the controller's first tick."""
    controller_url, operator_url = two_roles
    with ControllerPresence(controller_url):
        holder = controller_holder(operator_url)
        assert holder is not None and (holder.pid, holder.since) == (str(os.getpid()), None)
        started = time.time() - 5
        db = Database(controller_url)
        with db.write() as session:
            beat(session, Member("m-2-abcd", 15.0, os.getpid(), "m"), started)
        db.close()
        holder = controller_holder(operator_url)
        assert holder is not None and holder.pid == str(os.getpid()) and holder.since == pytest.approx(started)


def test_the_holders_of_a_lock_are_looked_up_in_this_database_only(pg_server: PgServer, pg_url: str):
    """An advisory lock's key is per database: a controller or an apply on another state DB of the
    same server is not this one's."""
    Database(pg_url).close()
    other = pg_server.url(pg_server.create_database())
    try:
        with ControllerPresence(other), ApplyLock(other):
            assert controller_holder(pg_url) is None
            waits: list[str] = []
            with ApplyLock(pg_url, on_wait=waits.append):  # taken at once: nobody to wait for here
                pass
            assert waits == []
    finally:
        pg_server.drop_database(other.rsplit("/", 1)[1])


def test_every_connection_gets_a_connect_timeout_and_keepalives_unless_the_url_sets_them(pg_url: str):
    """Found in review: the lock connections had neither, so a dead apply's session could hold the
    apply lock (and block every apply and controller start) until the kernel's two-hour keepalive."""
    given = pg_connect_args(Location.of("postgresql://axis@db.lan/fleet?connect_timeout=3&keepalives_idle=5"), "x")
    assert "connect_timeout" not in given and "keepalives_idle" not in given  # the URL's own stay
    assert given["keepalives"] == 1 and given["application_name"] == "x"
    expected = {key: str(value) for key, value in LIBPQ_DEFAULTS.items()}
    session = LockSession(Location.of(pg_url), "axis test")  # the connection every lock is held on
    try:
        parameters = session._conn.connection.dbapi_connection.info.get_parameters()  # type: ignore[union-attr]
        assert {key: parameters.get(key) for key in expected} == expected
    finally:
        session.close()
    db = Database(pg_url)
    with db.engine.connect() as conn:  # and the engine's, as before
        parameters = conn.connection.dbapi_connection.info.get_parameters()  # type: ignore[union-attr]
        assert {key: parameters.get(key) for key in expected} == expected
    db.close()


def test_on_postgresql_a_controller_is_seen_running_while_its_process_lives(pg_url: str, tmp_path: Path):
    """`controller_holder` (`axis apply` hands its hosts over to a running controller, `get
    controller` says whether one runs, `exec --detach` warns when none does): on PostgreSQL the
    first started of the controllers holding ControllerPresence, none as soon as they are gone,
    SIGKILL included (its session lock dies with its connection)."""
    Database(pg_url).close()
    assert controller_holder(pg_url) is None
    with ControllerPresence(pg_url), ControllerPresence(pg_url):  # two controllers in this process
        holder = controller_holder(pg_url)
        assert holder is not None and holder.pid == str(os.getpid()) and abs(holder.since - time.time()) < 60
    assert controller_holder(pg_url) is None and controller_pid(pg_url) is None
    ready = tmp_path / "ready"
    proc = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom pathlib import Path\n"
                             "from axis.state.pg_locks import ControllerPresence\n"
                             "with ControllerPresence(sys.argv[1]):\n    Path(sys.argv[2]).touch()\n    time.sleep(60)",
                             pg_url, str(ready)], cwd=Path(__file__).resolve().parent.parent)
    try:
        deadline = time.time() + 30
        while not ready.exists():
            assert proc.poll() is None and time.time() < deadline
            time.sleep(0.05)
        assert controller_pid(pg_url) == str(proc.pid)
    finally:
        proc.kill()
        proc.wait(30)
    deadline = time.time() + 5  # the server notices the closed connection at once; a moment to end the session
    while controller_holder(pg_url) is not None:
        assert time.time() < deadline, "the killed controller is still shown running"
        time.sleep(0.05)
