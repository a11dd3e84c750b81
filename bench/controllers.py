"""Several controllers on one state DB, simulated: N fake hosts shared by K `axis controller`
processes, one of them killed with SIGKILL once every host has been passed.

Run: `python bench/controllers.py [--hosts 10000] [--controllers 4] [--lease 15] [--latency 0.02]
[--backend postgresql|sqlite]`. Each controller is the real `axis controller` (membership, fencing,
leader, records in the DB) started through `axis.cli.main.run` with a fake connector: every host
answers the facts script with the captured output of a real Debian 12 host after `--latency`
seconds per command (and per connection). The PostgreSQL server is a throw-away one
(tests/pgserver.py). Prints figures; exits 1 when a host was passed by two controllers at once.

What it measures:
1. first round: every host passed once (its facts recorded), passes/s over the whole run;
2. takeover: after the SIGKILL, how long until no host is held by the killed controller
   (ownership rows), and until every host it held has been passed again by a survivor;
3. overlap: every pass (connect .. close of the host's transport, from each controller's own
   log, written line by line) against every other controller's passes over the same host.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func  # noqa: E402
from sqlmodel import select  # noqa: E402

from axis.drivers.transport import RunResult, Transport  # noqa: E402
from axis.specs import Host  # noqa: E402
from axis.state import Database  # noqa: E402
from axis.state.tables import ControllerMember, FactsRecord, Ownership  # noqa: E402
from tests.factskit import load  # noqa: E402
from tests.fake_transport import FakeTransport  # noqa: E402
from tests.passlog import overlaps, stop_all  # noqa: E402

HOST = """apiVersion: axis/v1
kind: Host
metadata:
  name: {name}
spec:
  address: {name}.sim
"""


@dataclass
class SimTransport(FakeTransport):
    """A fake host that answers after `latency` seconds and logs its pass when it is closed."""

    latency: float = 0.0
    log: IO[str] | None = None
    opened: float = 0.0

    async def run(self, command: str, **kwargs: Any) -> RunResult:
        await asyncio.sleep(self.latency)
        return await super().run(command, **kwargs)

    async def close(self) -> None:
        await super().close()
        if self.log is not None:
            self.log.write(f"{self.name} {os.getpid()} {self.opened:.6f} {time.time():.6f}\n")


@dataclass
class SimConnector:
    """Every host a SimTransport answering the facts script with a real host's captured output."""

    latency: float
    log: IO[str]
    facts: str = field(default_factory=lambda: load("debian12-testhost"))

    async def connect(self, host: Host) -> Transport:
        opened = time.time()
        await asyncio.sleep(self.latency)  # the handshake
        transport = SimTransport(host.metadata.name, latency=self.latency, log=self.log, opened=opened)
        return transport.script("", stdout=self.facts)


def worker(state: str, watch: str, lease: str, latency: float, log: Path, jobs: int) -> int:
    """One `axis controller` on `state` with the fake connector; runs until SIGTERM (or SIGKILL)."""
    from axis.cli.main import run
    with log.open("a", buffering=1) as out:  # line-buffered: a SIGKILL loses no finished pass
        return run(["--state", state, "controller", "--watch", watch, "--lease", lease, "--resync", "1h",
                    "--jobs", str(jobs), "--log-format", "json"], connector=SimConnector(latency, out))


def _start(args: argparse.Namespace, state: str, watch: Path, work: Path, index: int) -> subprocess.Popen[bytes]:
    log = work / f"controller{index}.log"
    return subprocess.Popen([sys.executable, __file__, "worker", state, str(watch), f"{args.lease:g}s",
                             str(args.latency), str(work / f"passes{index}.log"), str(args.jobs)],
                            stdout=log.open("ab"), stderr=subprocess.STDOUT)


def _count(db: Database, query: Any) -> int:
    with db.read() as session:
        return int(session.exec(query).one())


def _wait(what: str, check: Any, timeout: float) -> float:
    """Seconds until `check()` holds; exits with a message when it does not within `timeout`."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            sys.exit(f"bench/controllers.py: gave up waiting for {what} after {timeout:g}s")
        time.sleep(0.2)
    return time.monotonic() - start


def _passes(work: Path) -> list[tuple[str, int, float, float]]:
    rows = []
    for log in work.glob("passes*.log"):
        for line in log.read_text().splitlines():
            host, pid, opened, closed = line.split()
            rows.append((host, int(pid), float(opened), float(closed)))
    return rows


def simulate(args: argparse.Namespace, state: str, work: Path) -> dict[str, Any]:
    watch = work / "specs"
    watch.mkdir()
    for i in range(args.hosts):
        (watch / f"h{i:05d}.yaml").write_text(HOST.format(name=f"h{i:05d}"))
    db = Database(state)
    procs = [_start(args, state, watch, work, i) for i in range(args.controllers)]
    started = time.monotonic()
    figures: dict[str, Any] = {"hosts": args.hosts, "controllers": args.controllers, "lease_s": args.lease,
                               "latency_s": args.latency, "backend": args.backend}
    try:
        facts_hosts = select(func.count(func.distinct(FactsRecord.host)))
        figures["first_round_s"] = round(_wait("the first round", lambda: _count(db, facts_hosts) >= args.hosts,
                                               args.timeout) + 0, 2)
        figures["first_round_passes_per_s"] = round(args.hosts / (time.monotonic() - started), 1)
        if args.controllers < 2:
            return figures
        fair = math.ceil(args.hosts / args.controllers)
        figures["balanced_s"] = round(_wait("balanced shares", lambda: _balanced(db, args.controllers, fair),
                                            4 * args.lease), 2)
        holders = _holders(db)
        figures["shares"] = sorted(holders.values())
        victim = procs[-1]
        victim_name = _member_of(db, victim.pid)
        victim_hosts = _held_by(db, victim_name)
        before = {host for host, *_ in _passes(work)}
        assert before >= victim_hosts
        killed_at = time.time()
        victim.kill()
        victim.wait()
        figures["taken_over_s"] = round(_wait("the takeover", lambda: not _held_by(db, victim_name), 4 * args.lease), 2)

        def repassed() -> bool:
            return {h for h, pid, opened, _ in _passes(work) if opened > killed_at and pid != victim.pid} >= victim_hosts
        _wait("the survivors' passes", repassed, args.timeout)
        figures["victim_hosts"] = len(victim_hosts)
        figures["repassed_s"] = round(time.time() - killed_at, 2)
        figures["shares_after"] = sorted(_holders(db).values())
        return figures
    finally:
        stop_all(procs, 60)
        passes = _passes(work)
        figures["passes"] = len(passes)
        figures["overlaps"] = overlaps(passes)[:10]
        db.close()


def _holders(db: Database) -> dict[str, int]:
    with db.read() as session:
        rows = session.exec(select(Ownership.holder, func.count()).where(Ownership.scope == "host",
                                                                         Ownership.holder != "")
                            .group_by(Ownership.holder)).all()
    return {holder: count for holder, count in rows}


def _balanced(db: Database, controllers: int, fair: int) -> bool:
    """Every controller holds its share: within one host of the fair one, as the ticks balance."""
    shares = _holders(db).values()
    return len(shares) == controllers and all(fair - 1 <= n <= fair for n in shares)


def _member_of(db: Database, pid: int) -> str:
    with db.read() as session:
        return session.exec(select(ControllerMember.name).where(ControllerMember.pid == pid,
                                                                ControllerMember.stopped == 0)).one()


def _held_by(db: Database, name: str) -> set[str]:
    with db.read() as session:
        return set(session.exec(select(Ownership.name).where(Ownership.scope == "host", Ownership.holder == name,
                                                             Ownership.expires > time.time())).all())


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        state, watch, lease, latency, log, jobs = sys.argv[2:8]
        sys.exit(worker(state, watch, lease, float(latency), Path(log), int(jobs)))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--controllers", type=int, default=4)
    parser.add_argument("--lease", type=float, default=15.0)
    parser.add_argument("--latency", type=float, default=0.02, help="seconds per fake command and connection")
    parser.add_argument("--jobs", type=int, default=64, help="each controller's --jobs")
    parser.add_argument("--backend", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--timeout", type=float, default=1800.0)
    args = parser.parse_args()
    if args.backend == "sqlite" and args.controllers != 1:
        parser.error("SQLite takes one controller per state DB (its flock): --controllers 1")
    with tempfile.TemporaryDirectory(prefix="axis-sim-") as tmp:
        work = Path(tmp)
        if args.backend == "sqlite":
            figures = simulate(args, str(work / "state.db"), work)
        else:
            from tests.pgserver import PgServer
            server = PgServer.start()
            try:
                figures = simulate(args, server.url(server.create_database()), work)
            finally:
                server.stop()
    print(json.dumps(figures, indent=2))
    if figures["overlaps"]:
        sys.exit("a host was passed by two controllers at once:\n" + "\n".join(figures["overlaps"]))


if __name__ == "__main__":
    main()
