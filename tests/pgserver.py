"""A throw-away PostgreSQL server for the tests, started from the installed binaries.

One server per pytest session (the `pg_server` fixture in tests/conftest.py): `initdb` into a
fresh temp dir, `pg_ctl start` listening on a unix socket in that dir and on 127.0.0.1 at a free
port, and `pg_ctl stop -m immediate` when the session ends, failed or not. It is a test server:
trust authentication, fsync off, nothing kept. Every test that needs one gets a database of its
own (`create_database`), empty or cloned from a template, so that no test sees another's rows.

initdb refuses to run as root: under root the server runs as the `postgres` OS user (runuser),
and its temp dir is chowned to that user. Binaries are found in /usr/lib/postgresql/<newest>/bin,
then through `pg_config --bindir`; none found is `PgUnavailable`, which the fixture turns into a
skip outside CI and a failure under CI=true (tests/ci.py: no test passes there by not running).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import psycopg
from psycopg import sql

#: The OS user the server runs as when the tests run as root (initdb refuses root).
SERVER_OS_USER = "postgres"
#: The database role every test connects as (initdb -U): a superuser, so that tests may create
#: databases and the product may take advisory locks.
ROLE = "axis"
START_TIMEOUT_S = 60


class PgUnavailable(Exception):
    """No PostgreSQL server binaries on this machine (or no OS user to run them as root)."""


def find_bindir() -> Path:
    """The directory holding initdb and pg_ctl: the newest /usr/lib/postgresql/*/bin (Debian's
    layout, where they are not on PATH), else what `pg_config --bindir` says."""
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: _version_key(p.parent.name))
    candidates = list(reversed(versions))
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False).stdout.strip()
        if out:
            candidates.append(Path(out))
    for bindir in candidates:
        if (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file():
            return bindir
    raise PgUnavailable("no PostgreSQL server binaries (initdb, pg_ctl) in /usr/lib/postgresql/*/bin or "
                        "`pg_config --bindir`: install them (apt-get install postgresql)")


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit())


def _free_port() -> int:
    """A loopback port free right now. The server binds it a moment later; should another process
    take it meanwhile, `start` fails and says so (pg_ctl's log), it does not hang."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PgServer:
    """One running server: `url(db)` for a database on it, `create_database()` for a fresh one."""

    def __init__(self, bindir: Path, root: Path, port: int, run_as: str | None):
        self.bindir, self.root, self.port, self.run_as = bindir, root, port, run_as
        self.data = root / "data"
        self.socket_dir = root  # short path: a unix socket path is limited to 107 bytes
        self._count = 0

    @classmethod
    def start(cls, bindir: Path | None = None) -> PgServer:
        """initdb a fresh cluster in a new temp dir and start it; the caller must `stop()` it."""
        bindir = bindir or find_bindir()
        run_as = None
        root = Path(tempfile.mkdtemp(prefix="axis-pg-"))
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam(SERVER_OS_USER)
            except KeyError as exc:
                shutil.rmtree(root)
                raise PgUnavailable(f"running as root, and there is no `{SERVER_OS_USER}` OS user to run "
                                    f"the server as (initdb refuses root)") from exc
            os.chown(root, owner.pw_uid, owner.pw_gid)
            run_as = SERVER_OS_USER
        server = cls(bindir, root, _free_port(), run_as)
        try:
            server._run("initdb", "-D", str(server.data), "-U", ROLE, "--auth=trust", "--encoding=UTF8",
                        "--locale=C", "--no-sync")
            server._run("pg_ctl", "start", "-D", str(server.data), "-w", "-t", str(START_TIMEOUT_S),
                        "-l", str(root / "server.log"), "-o", server._options())
        except BaseException:
            server.stop()
            raise
        return server

    def _options(self) -> str:
        """postgres's own settings: a test server that keeps nothing (no fsync, no full pages)
        and takes enough connections for tests that start many processes."""
        return " ".join([f"-p {self.port}", "-c listen_addresses=127.0.0.1", f"-c unix_socket_directories={self.socket_dir}",
                         "-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off",
                         "-c max_connections=200", "-c shared_buffers=32MB"])

    def _run(self, tool: str, *args: str) -> None:
        """Run one server binary (as the server's OS user under root); a failure says its output."""
        argv: Sequence[str] = [str(self.bindir / tool), *args]
        if self.run_as:
            argv = ["runuser", "-u", self.run_as, "--", *argv]
        done = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=self.root)
        if done.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stdout}{done.stderr}{tail}")

    def stop(self) -> None:
        """Stop the server at once (nothing it holds is worth a clean shutdown) and remove its dir."""
        if (self.data / "postmaster.pid").exists():
            try:
                self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "immediate", "-w")
            except RuntimeError:
                pass  # already gone: nothing left to stop; the dir goes either way
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str) -> str:
        """A URL for `database` over TCP on loopback, as a user would write it for --state."""
        return f"postgresql://{ROLE}@127.0.0.1:{self.port}/{database}"

    def socket_url(self, database: str) -> str:
        """A URL for `database` over the unix socket (libpq's `host=` a directory)."""
        return f"postgresql://{ROLE}@/{database}?host={self.socket_dir}&port={self.port}"

    def connect(self, database: str = "postgres") -> psycopg.Connection[tuple[object, ...]]:
        """A plain psycopg connection (autocommit), for the tests' own SQL."""
        return psycopg.connect(host=str(self.socket_dir), port=self.port, user=ROLE, dbname=database, autocommit=True)

    def drop_database(self, name: str) -> None:
        """Drop `name`, ending any connection a test left open to it (its disk space comes back)."""
        with self.connect() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def create_database(self, template: str | None = None) -> str:
        """A fresh database (its name): empty, or a copy of `template` (a database prepared once
        per session, which no connection may hold while it is copied)."""
        self._count += 1
        name = f"t_{os.getpid()}_{self._count}"
        clone = sql.SQL(" TEMPLATE {}").format(sql.Identifier(template)) if template else sql.SQL("")
        with self.connect() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}{}").format(sql.Identifier(name), clone))
        return name
