"""Placement benchmark: 10,000 claims over 1,000 synthetic hosts whose facts sit in a state DB.

Run: `python bench/placement.py [--hosts N] [--claims N] [--seed N] [--backend sqlite|postgresql]`.
Prints figures; asserts nothing. Targets: scoring all claims in under 1 s; one lease bind under 2 ms
on SQLite. `--backend postgresql` runs the same on a throw-away PostgreSQL server
(tests/pgserver.py, over its unix socket), for binds/s on both side by side.

1. scoring alone: load hosts, facts and leases from the DB, infer every claim's needs, choose
   a host for each (what `axis place` decides, without writing);
2. single binds: the bind transaction (BEGIN IMMEDIATE, re-read the host's leases, check its
   cap, write lease + status + event, commit) for 1,000 claims, timed one by one;
3. a full pass with ledger writes: `place_claims`, which sweeps and binds every claim.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402

from axis.placement.candidates import load_candidates  # noqa: E402
from axis.placement.infer import infer  # noqa: E402
from axis.placement.ledger import bind, place_claims  # noqa: E402
from axis.placement.scorer import Index  # noqa: E402
from axis.specs import Claim, Host, Kind, Loaded  # noqa: E402
from axis.state import Database  # noqa: E402
from axis.state.facts import Observation, store_observations  # noqa: E402
from axis.state.objects import apply_objects, list_rows  # noqa: E402
from axis.state.stored_specs import to_model  # noqa: E402

GiB = 1 << 30
TOOLS = ("go", "python3", "git", "docker", "ollama", "node", "swift", "cargo", "gcc", "nvidia-smi")
TASKS = ("run ollama inference on a 7b model", "build and test the go services with go test",
         "analyze the git repo", "docker build the web image", "npm ci and npm test",
         "pytest the python package", "compile rust crates with cargo", "nightly batch job",
         "heavy data crunching", "llm eval on a 13b model", "cuda inference benchmark")


def _host(rng: random.Random, i: int) -> tuple[Host, dict[str, Any]]:
    name = f"host-{i:04d}"
    gpu = rng.random() < 0.2
    role = "gpu" if gpu else rng.choice(["worker", "build"])
    spec = Host.model_validate({"apiVersion": "axis/v1", "kind": "Host", "metadata": {"name": name, "labels": {"role": role}},
                                "spec": {"address": f"{name}.lan", "fanout": rng.random() > 0.02}})
    total = rng.choice([8, 16, 32, 64, 128, 256]) * GiB
    tools = {t: (f"/usr/bin/{t}" if rng.random() < 0.6 or (gpu and t == "nvidia-smi") else None) for t in TOOLS}
    data = {"status": "complete", "missing": {}, "hostname": name, "os": {"family": "linux" if rng.random() < 0.9 else "macos"},
            "cpu": {"cores": rng.choice([2, 4, 8, 16, 32])}, "gpus": [{"name": "RTX 4090"}] if gpu else [],
            "memory": {"total_bytes": total, "available_bytes": int(total * rng.uniform(0.05, 0.95)),
                       "pressure": rng.choice(["none", "none", "none", "low", "medium", "high"])},
            "tools": tools}
    return spec, data


def _claim(rng: random.Random, i: int) -> Claim:
    spec: dict[str, Any] = {"task": rng.choice(TASKS), "ttl": "45m"}
    if rng.random() < 0.5:
        spec["requires"] = {"memory": f"{rng.choice([1, 2, 4, 8])}Gi"}
    if rng.random() < 0.1:
        spec["selector"] = {"matchLabels": {"role": rng.choice(["worker", "build", "gpu"])}}
    return Claim.model_validate({"apiVersion": "axis/v1", "kind": "Claim", "metadata": {"name": f"claim-{i:05d}"}, "spec": spec})


def _setup(db: Database, hosts: int, claims: int, seed: int, now: float) -> None:
    rng = random.Random(seed)
    made = [_host(rng, i) for i in range(hosts)]
    objects = [h for h, _ in made] + [_claim(rng, i) for i in range(claims)]
    with db.write() as session:
        apply_objects(session, [Loaded(o, "bench.yaml", i + 1, "bench") for i, o in enumerate(objects)], now=now)
        store_observations(session, [Observation(h.metadata.name, "complete", "", data, now) for h, data in made])


def _score_all(db: Database, now: float) -> tuple[float, float, int]:
    start = time.perf_counter()
    with db.read() as session:
        index = Index(load_candidates(session, now=now))
        rows = list_rows(session, Kind.CLAIM)
    loaded = time.perf_counter()
    chosen = sum(1 for row in rows if index.choose(infer(to_model(row, Claim).spec).need) is not None)
    return loaded - start, time.perf_counter() - loaded, chosen


def _single_binds(db: Database, count: int, now: float) -> list[float]:
    with db.read() as session:
        index = Index(load_candidates(session, now=now))
        rows = list_rows(session, Kind.CLAIM)[:count]
    times = []
    for row in rows:
        need = infer(to_model(row, Claim).spec).need
        host = index.choose(need)
        if host is None:
            continue
        start = time.perf_counter()
        with db.write() as session:
            result = bind(session, claim=row.name, generation=row.generation, host=host.name, cap=host.cap,
                          need=need, gpu=False, ttl=2700, now=now)
        times.append(time.perf_counter() - start)
        index.set_leased(host.name, result.held)
    with db.write() as session:  # leave the DB as it was for the full pass
        for table in ("leases", "claim_status", "events"):
            session.exec(text(f"DELETE FROM {table}"))  # type: ignore[call-overload]
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--claims", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        if args.backend == "postgresql":
            from tests.pgserver import PgServer
            server = PgServer.start()
            stack.callback(server.stop)
            run(args, server.socket_url(server.create_database()))
        else:
            run(args, str(Path(stack.enter_context(tempfile.TemporaryDirectory())) / "state.db"))


def run(args: argparse.Namespace, state: str) -> None:
    """Every figure on the state DB at `state` (a path or a PostgreSQL URL)."""
    now = time.time()
    db = Database(state)
    start = time.perf_counter()
    _setup(db, args.hosts, args.claims, args.seed, now)
    print(f"setup: {args.hosts} hosts with facts, {args.claims} claims stored in {time.perf_counter() - start:.1f}s")

    load, score, chosen = _score_all(db, now)
    print(f"scoring alone: {args.claims} claims in {score:.3f}s = {args.claims / score:,.0f} claims/s "
          f"({chosen} placeable; loading hosts, facts and leases took {load:.3f}s more)")

    times = _single_binds(db, 1000, now)
    print(f"single binds: {len(times)} transactions, mean {statistics.mean(times) * 1000:.2f} ms, "
          f"p50 {statistics.median(times) * 1000:.2f} ms, p99 {sorted(times)[int(len(times) * 0.99)] * 1000:.2f} ms")

    start = time.perf_counter()
    outcomes = place_claims(db, now=now)
    took = time.perf_counter() - start
    bound = sum(1 for o in outcomes if o.phase == "Bound")
    print(f"with ledger writes: {len(outcomes)} claims in {took:.2f}s = {len(outcomes) / took:,.0f} claims/s "
          f"({bound} bound, {len(outcomes) - bound} pending; one transaction per bind)")
    db.close()


if __name__ == "__main__":
    main()
