"""Controller CPU per no-op host pass, cold vs warm (issue 21, "Warm path": at least 5x less warm).

    python bench/pass_cpu.py --hosts N --prefix P --net K [--passes M] [--repeats R] --json

Starts its own N test hosts (tests.sshhosts, prefix P, bridge net K), stores and converges one Host
per test host (panicRecovery, as bench/ does elsewhere) with `axis apply`, then, in this process,
times M rounds of the controller's host pass over every host, `--jobs` at once as the controller
runs them (`reconcile_stored_host`: plan from the state DB, converge over the connector, record
the pass). Nothing is left to do on the hosts, so every pass is a no-op resync pass:

- cold: the connector the controller had before issue 21 (SshOptions): a new SSH connection, key
  exchange and authentication for every host pass;
- warm: the controller's ConnectionPool over the same connector, its connections opened by one
  untimed round first: every timed pass runs on a kept connection.

The CPU is this process's (time.process_time: user + system of all its threads) divided by the
host passes, so it is what the controller itself spends per pass; the hosts' sshd is not in it.
Cold and warm are measured in turns, R times each, and the medians reported with the machine's
load averages before the first and after the last measurement (the figures are noisy on a busy
machine). Prints one JSON object with --json, else a line of text.

`warm_split_cpu_ms` says where a host pass's CPU goes (per host, medians of the same rounds): `handshake` is
a connect and close (what a warm pass no longer pays), `command` one `true` on a kept connection, `converge` the
pass without its state DB reads and writes (the facts script with the probes on a kept connection, parsing,
planning), `plan_and_record` the rest of a warm pass (reading the desired state, recording the pass).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from axis.drivers.connector import Connector, SshOptions  # noqa: E402
from axis.drivers.pool import ConnectionPool  # noqa: E402
from axis.reconcile.converge import converge_host  # noqa: E402
from axis.reconcile.host_pass import HostWork, plan_work, reconcile_stored_host  # noqa: E402
from axis.specs import Host, HostProfile, Kind  # noqa: E402
from axis.state import Database  # noqa: E402
from axis.state.objects import get_row, valid_models  # noqa: E402
from axis.state.stored_specs import to_model  # noqa: E402
from bench.timing import BenchError  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, required=True, help="test hosts to start")
    parser.add_argument("--prefix", required=True, help="test host name prefix (tests.sshhosts)")
    parser.add_argument("--net", type=int, required=True, help="test host bridge number (tests.sshhosts)")
    parser.add_argument("--passes", type=int, default=10, help="timed rounds of host passes per measurement")
    parser.add_argument("--repeats", type=int, default=3, help="measurements of each way, in turns (median)")
    parser.add_argument("--jobs", type=int, default=16, help="host passes at once, as `axis controller --jobs`")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    from tests.sshhosts import Fleet, HarnessUnavailable

    with tempfile.TemporaryDirectory(prefix="axis-pass-cpu-") as tmp:
        work = Path(tmp)
        try:
            fleet = Fleet.start(args.hosts, work / "fleet", prefix=args.prefix, net=args.net)
        except HarnessUnavailable as exc:
            raise BenchError(f"test hosts unavailable: {exc.reason}") from exc
        try:
            figures = measure(fleet, work, passes=args.passes, repeats=args.repeats, jobs=args.jobs)
        finally:
            fleet.stop()
    if args.json:
        print(json.dumps(figures))
    else:
        print(f"{figures['hosts']} hosts x {figures['passes']} passes: controller CPU per no-op host pass "
              f"cold {figures['cold_cpu_ms_per_host_pass']} ms, warm {figures['warm_cpu_ms_per_host_pass']} ms "
              f"({figures['ratio']}x less warm); wall per pass {figures['cold_wall_ms_per_pass']} ms cold, "
              f"{figures['warm_wall_ms_per_pass']} ms warm; load {figures['load']}")
    return 0


def measure(fleet: Any, work: Path, *, passes: int, repeats: int, jobs: int) -> dict[str, Any]:
    state = work / "state.db"
    names = [h.name for h in fleet.hosts]
    converge(fleet, work, state, names)
    ssh = SshOptions(ssh_config=fleet.ssh_config, known_hosts=fleet.known_hosts)
    db = Database(state)
    load_before = os.getloadavg()
    cold: list[tuple[float, float]] = []
    warm: list[tuple[float, float]] = []
    splits: list[dict[str, float]] = []
    try:
        for _ in range(repeats):
            cold.append(asyncio.run(_timed(db, names, ssh, passes, jobs)))
            warm.append(asyncio.run(_timed_warm(db, names, ssh, passes, jobs)))
            splits.append(asyncio.run(_split(db, names, ssh, passes)))
    finally:
        db.close()
    load_after = os.getloadavg()
    host_passes = len(names) * passes
    cold_cpu = statistics.median(c for c, _ in cold) / host_passes * 1000
    warm_cpu = statistics.median(c for c, _ in warm) / host_passes * 1000
    return {"hosts": len(names), "passes": passes, "cold_cpu_ms_per_host_pass": round(cold_cpu, 2),
            "warm_cpu_ms_per_host_pass": round(warm_cpu, 2), "ratio": round(cold_cpu / warm_cpu, 2),
            "cold_wall_ms_per_pass": round(statistics.median(w for _, w in cold) / passes * 1000, 1),
            "warm_wall_ms_per_pass": round(statistics.median(w for _, w in warm) / passes * 1000, 1),
            "warm_split_cpu_ms": {part: round(statistics.median(s[part] for s in splits), 2) for part in splits[0]}
            | {"plan_and_record": round(warm_cpu - statistics.median(s["converge"] for s in splits), 2)},
            "load": [round(x, 2) for x in (*load_before, *load_after)], "repeats": repeats, "jobs": jobs,
            "cold_cpu_ms_samples": [round(c / host_passes * 1000, 2) for c, _ in cold],
            "warm_cpu_ms_samples": [round(c / host_passes * 1000, 2) for c, _ in warm]}


def converge(fleet: Any, work: Path, state: Path, names: list[str]) -> None:
    """Store one Host per test host and converge them once (`axis apply`)."""
    specs = work / "specs"
    specs.mkdir()
    (specs / "hosts.yaml").write_text("---\n".join(
        f"apiVersion: axis/v1\nkind: Host\nmetadata: {{name: {name}}}\nspec:\n  address: {name}\n"
        f"  features:\n    panicRecovery: {{panicSeconds: 10}}\n" for name in names))
    proc = subprocess.run([sys.executable, "-m", "axis", "--state", str(state), "--ssh-config", str(fleet.ssh_config),
                           "--known-hosts", str(fleet.known_hosts), "apply", "-f", str(specs)],
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
    if proc.returncode != 0:
        raise BenchError(f"axis apply exited {proc.returncode}: {(proc.stdout + proc.stderr)[-2000:]}")


async def _rounds(db: Database, names: list[str], connector: Connector, passes: int, jobs: int) -> None:
    gate = asyncio.Semaphore(jobs)

    async def one(name: str) -> None:
        async with gate:
            reconciled = await reconcile_stored_host(db, name, connector)
        if reconciled is None or reconciled.outcome.status != "unchanged":
            outcome = reconciled.outcome if reconciled else None
            raise BenchError(f"{name}: not a no-op pass: {outcome.status if outcome else 'not stored'} "
                             f"{outcome.reason if outcome else ''}")

    for _ in range(passes):
        await asyncio.gather(*(one(name) for name in names))


async def _timed(db: Database, names: list[str], connector: Connector, passes: int, jobs: int) -> tuple[float, float]:
    """CPU and wall seconds of `passes` rounds, after one untimed round (warm-up)."""
    await _rounds(db, names, connector, 1, jobs)
    cpu, wall = time.process_time(), time.perf_counter()
    await _rounds(db, names, connector, passes, jobs)
    return time.process_time() - cpu, time.perf_counter() - wall


async def _timed_warm(db: Database, names: list[str], ssh: SshOptions, passes: int, jobs: int) -> tuple[float, float]:
    pool = ConnectionPool(ssh)
    try:
        took = await _timed(db, names, pool, passes, jobs)
        if pool.counts["opened"] != len(names):
            raise BenchError(f"warm passes opened {pool.counts['opened']} connection(s) for {len(names)} hosts")
        return took
    finally:
        await pool.aclose()


async def _split(db: Database, names: list[str], ssh: SshOptions, passes: int) -> dict[str, float]:
    """CPU ms per host of a connect and close, of a command on a kept connection, and of the
    converge alone, each over `passes` rounds of every host at once (`warm_split_cpu_ms`)."""
    with db.read() as session:
        hosts = [to_model(row, Host) for name in names if (row := get_row(session, Kind.HOST, name)) is not None]
        works = plan_work(session, hosts, valid_models(session, HostProfile), planned_at=time.time())
    pool = ConnectionPool(ssh)

    async def handshake(host: Host) -> None:
        async with await ssh.connect(host):
            pass

    async def command(host: Host) -> None:
        async with await pool.connect(host) as transport:
            await transport.run("true")

    async def converges(work: HostWork) -> None:
        await converge_host(work.host, work.features, pool, dry_run=False, refused=work.refused)

    async def cpu_ms(one: Callable[[Any], Awaitable[None]], items: list[Any]) -> float:
        await asyncio.gather(*(one(item) for item in items))  # untimed: the pool's connections opened
        started = time.process_time()
        for _ in range(passes):
            await asyncio.gather(*(one(item) for item in items))
        return (time.process_time() - started) / (passes * len(items)) * 1000

    try:
        return {"handshake": await cpu_ms(handshake, hosts), "command": await cpu_ms(command, hosts),
                "converge": await cpu_ms(converges, works)}
    finally:
        await pool.aclose()


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"pass_cpu: {exc}", file=sys.stderr)
        sys.exit(1)
