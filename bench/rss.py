"""Figure 4: peak RSS of a process holding 1,000 hosts with facts the way the controller does.

Two steps, each its own process so the measured one carries nothing from the build:

    python bench/rss.py build STATE.db --facts TEMPLATE.json [--hosts 1000] [--history 20]
    python bench/rss.py hold STATE.db            # prints one JSON line

`build` stores N Host objects (panicRecovery + earlyoom features, labels) and `--history`
observations per host whose facts are a real host's facts (TEMPLATE: one `facts` object, as
`axis status -o json` or `axis facts -o json` prints it) with hostname, memory, load and
addresses varied per host, in one transaction.

`hold` is what is measured: import axis (CLI, transport, drivers: all of it), open the DB, read the desired hosts and profiles
(`desired_hosts`), the newest observation of every host (`latest`), validate every one into a
`Facts` model, build the placement index (`load_candidates` + `Index`) and keep all of it alive;
then report `resource.getrusage(RUSAGE_SELF).ru_maxrss` (peak resident set of this process,
Linux reports KiB), also the peak right after the imports for comparison.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import resource
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _peak_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def build(db_path: Path, template: dict[str, Any], hosts: int, history: int, seed: int) -> None:
    from axis.specs import Host, Loaded
    from axis.state import Database
    from axis.state.facts import Observation, store_observations
    from axis.state.objects import apply_objects

    rng = random.Random(seed)
    db = Database(db_path)
    specs, observations = [], []
    now = time.time()
    for i in range(hosts):
        name = f"host-{i:04d}"
        specs.append(Host.model_validate({
            "apiVersion": "axis/v1", "kind": "Host",
            "metadata": {"name": name, "labels": {"role": rng.choice(["worker", "build", "gpu"]), "rack": f"r{i % 40}"}},
            "spec": {"address": f"{name}.lan", "description": f"synthetic host {i}",
                     "features": {"panicRecovery": {"panicSeconds": 10}, "earlyoom": {}}}}))
        for h in range(history):
            data = copy.deepcopy(template)
            data["hostname"] = name
            memory = data.get("memory") or {}
            total = rng.choice([8, 16, 32, 64, 128]) << 30
            memory.update(total_bytes=total, available_bytes=int(total * rng.uniform(0.1, 0.9)))
            data["memory"] = memory
            if data.get("load"):
                data["load"].update(load1=round(rng.uniform(0, 8), 2))
            for j, addr in enumerate(data.get("addresses") or []):
                if isinstance(addr, dict) and "address" in addr:
                    addr["address"] = f"10.{i // 250}.{i % 250}.{j + 1}"
            observations.append(Observation(name, data.get("status", "complete"), "", data,
                                            now - (history - h) * 60))
    with db.write() as session:
        apply_objects(session, [Loaded(o, "bench.yaml", i + 1, "bench") for i, o in enumerate(specs)], now=now)
        store_observations(session, observations, keep=history)
    db.close()


def hold(db_path: Path) -> dict[str, Any]:
    started = time.perf_counter()
    import axis.main  # noqa: F401  (a controller process has the CLI, transport and drivers loaded)
    from axis.drivers.facts import Facts
    from axis.placement.candidates import load_candidates
    from axis.placement.scorer import Index
    from axis.state import Database
    from axis.state.facts import latest
    from axis.state.objects import desired_hosts
    imported_kib = _peak_kib()
    imported = time.perf_counter()

    db = Database(db_path)
    with db.read() as session:
        hosts, profiles = desired_hosts(session)
        newest = latest(session)  # every host in the bench DB is a desired one
        facts = {name: Facts.model_validate(row.data) for name, row in newest.items() if row.data}
        index = Index(load_candidates(session, now=time.time()))
    loaded = time.perf_counter()
    held = (hosts, profiles, newest, facts, index)  # all of it alive at the measurement
    peak = _peak_kib()
    assert len(held[0]) == len(held[3]) > 0
    return {"hosts": len(hosts), "facts": len(facts), "candidates": len(index.hosts),
            "facts_json_bytes_per_host": round(sum(len(json.dumps(r.data)) for r in newest.values()) / max(1, len(newest))),
            "peak_rss_kib": peak, "peak_rss_after_imports_kib": imported_kib,
            "import_seconds": round(imported - started, 3), "load_seconds": round(loaded - imported, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build")
    b.add_argument("db", type=Path)
    b.add_argument("--facts", type=Path, required=True, help="JSON file holding one host's facts")
    b.add_argument("--hosts", type=int, default=1000)
    b.add_argument("--history", type=int, default=20, help="observations stored per host (axis keeps 20)")
    b.add_argument("--seed", type=int, default=7)
    h = sub.add_parser("hold")
    h.add_argument("db", type=Path)
    args = parser.parse_args()
    if args.command == "build":
        build(args.db, json.loads(args.facts.read_text()), args.hosts, args.history, args.seed)
    else:
        print(json.dumps(hold(args.db)))


if __name__ == "__main__":
    main()
