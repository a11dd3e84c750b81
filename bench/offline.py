"""The figures another bench script measures, each run as a subprocess of its own and read back
from what it prints: placement (bench/placement.py), the controller's memory (bench/rss.py) and
the dashboard at 200 hosts (bench/dashboard.py), which need no test hosts, and the controller's CPU per no-op host pass cold and warm
(bench/pass_cpu.py, which starts test hosts of its own: run while the bench's fleet is down)."""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

from bench import ROOT
from bench.timing import BenchError, Figure, checked, checked_stoppable, load1

PASS_CPU = ROOT / "bench" / "pass_cpu.py"
#: The fleet size the dashboard is measured at (the issue's question: how the page behaves at 200 hosts).
DASHBOARD_HOSTS = 200


def placement_run() -> dict[str, float]:
    """One run of bench/placement.py, its printed figures parsed (seconds; the bind in ms)."""
    _, proc = checked([sys.executable, str(ROOT / "bench" / "placement.py")], timeout=900)
    out = proc.stdout
    score = re.search(r"scoring alone: (\d+) claims in ([\d.]+)s .*loading hosts, facts and leases took ([\d.]+)s", out)
    ledger = re.search(r"with ledger writes: (\d+) claims in ([\d.]+)s", out)
    binds = re.search(r"single binds: \d+ transactions, mean ([\d.]+) ms", out)
    if not (score and ledger and binds):
        raise BenchError(f"bench/placement.py printed something unexpected:\n{out}")
    return {"claims": int(score.group(1)), "scoring": float(score.group(2)), "loading": float(score.group(3)),
            "ledger_pass": float(ledger.group(2)), "bind_mean_ms": float(binds.group(1))}


def rss_run(work: Path, facts: dict[str, Any] | None, hosts: int = 1000) -> dict[str, Any]:
    """bench/rss.py `hold` on a state DB that `build` makes once per bench run (under `work`)."""
    db = work / "rss" / "state.db"
    if not db.exists():
        db.parent.mkdir(exist_ok=True)
        template = db.parent / "facts.json"
        if facts is None:  # no fleet facts (should not happen): this machine's own
            _, proc = checked([shutil.which("axis") or "axis", "facts", "-o", "json"])
            facts = json.loads(proc.stdout)
        template.write_text(json.dumps(facts))
        checked([sys.executable, str(ROOT / "bench" / "rss.py"), "build", str(db), "--facts", str(template),
                 "--hosts", str(hosts)], timeout=900)
    _, proc = checked([sys.executable, str(ROOT / "bench" / "rss.py"), "hold", str(db)])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure_placement(reps: int) -> dict[str, Figure]:
    """Figure 3: scoring 10,000 claims over 1,000 synthetic hosts, and the full pass with ledger writes."""
    scoring = Figure("placement scoring", "python bench/placement.py (scoring alone)")
    ledger = Figure("placement with ledger", "python bench/placement.py (full pass, one transaction per bind)")
    for rep in range(reps):
        scoring.load.append(load1())
        ledger.load.append(scoring.load[-1])
        result = placement_run()
        scoring.samples.append(result["scoring"])
        ledger.samples.append(result["ledger_pass"])
        scoring.extra.setdefault("runs", []).append(result)
        print(f"  rep {rep + 1}/{reps}: scoring {result['scoring']:.3f} s, loading {result['loading']:.3f} s, "
              f"ledger pass {result['ledger_pass']:.2f} s (load {scoring.load[-1]})", flush=True)
    return {"placement_scoring": scoring, "placement_ledger": ledger}


def measure_memory(work: Path, facts: dict[str, Any] | None, reps: int) -> Figure:
    """Figure 4: peak RSS of a process holding 1,000 hosts with `facts` (a fleet host's) as the controller does."""
    rss = Figure("peak RSS", "python bench/rss.py hold (1,000 hosts, 20 observations each in the DB)", unit="MB")
    for rep in range(reps):
        rss.load.append(load1())
        result = rss_run(work, facts)
        rss.samples.append(result["peak_rss_kib"] / 1024)
        rss.extra.setdefault("runs", []).append(result)
        print(f"  rep {rep + 1}/{reps}: peak RSS {rss.samples[-1]:.1f} MiB "
              f"(after imports {result['peak_rss_after_imports_kib'] / 1024:.1f} MiB; "
              f"{result['hosts']} hosts, {result['facts']} Facts models, {result['candidates']} candidates, "
              f"~{result['facts_json_bytes_per_host']} B of facts JSON per host)", flush=True)
    return rss


def measure_pass_cpu(hosts: int, *, prefix: str, net: int) -> dict[str, Figure] | str:
    """The controller's CPU milliseconds per no-op host pass, cold (a fresh connection per pass)
    and warm (kept connections), from one run of bench/pass_cpu.py on `hosts` test hosts of its
    own, its passes being the repetitions; or why it is not available (no such script yet)."""
    if not PASS_CPU.exists():
        return f"not available: {PASS_CPU.relative_to(ROOT)} is absent"
    load = load1()
    proc = checked_stoppable([sys.executable, str(PASS_CPU), "--hosts", str(hosts), "--prefix", prefix,
                              "--net", str(net), "--json"], timeout=1800)
    try:
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        cold, warm = float(result["cold_cpu_ms_per_host_pass"]), float(result["warm_cpu_ms_per_host_pass"])
    except (IndexError, ValueError, KeyError, TypeError) as exc:
        raise BenchError(f"bench/pass_cpu.py printed something unexpected ({exc}):\n{proc.stdout[-2000:]}") from exc
    command = f"python bench/pass_cpu.py --hosts {hosts} --json ({result.get('passes', '?')} passes each)"
    # Its repeats' samples when it gives them (median [min-max] in the table), else its medians alone.
    cold_samples = [float(x) for x in result.get("cold_cpu_ms_samples") or [cold]]
    warm_samples = [float(x) for x in result.get("warm_cpu_ms_samples") or [warm]]
    figures = {"pass_cpu_cold": Figure("controller CPU/host pass, cold", command, unit="ms", samples=cold_samples,
                                       load=[load]),
               "pass_cpu_warm": Figure("controller CPU/host pass, warm", command, unit="ms", samples=warm_samples,
                                       load=[load])}
    figures["pass_cpu_cold"].extra["pass_cpu"] = result
    print(f"  cold {cold:.2f} ms, warm {warm:.2f} ms of controller CPU per host pass "
          f"({cold / warm if warm else float('inf'):.1f}x less warm; load {load})", flush=True)
    return figures


def measure_dashboard(reps: int) -> dict[str, Figure]:
    """The dashboard's fleet page, its live fragment (changed and unchanged) and a host's page at
    DASHBOARD_HOSTS stored hosts: milliseconds per request over loopback HTTP from one run of
    bench/dashboard.py (at least 5 timed requests each), with their plain and gzipped sizes."""
    runs = max(reps, 5)
    load = load1()
    _, proc = checked([sys.executable, str(ROOT / "bench" / "dashboard.py"), "--hosts", str(DASHBOARD_HOSTS),
                       "--runs", str(runs)], timeout=900)
    try:
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        http = result["http"]
    except (IndexError, ValueError, KeyError) as exc:
        raise BenchError(f"bench/dashboard.py printed something unexpected ({exc}):\n{proc.stdout[-2000:]}") from exc
    figures = {}
    for key, what in (("page", "GET /"), ("fragment", "GET /ui/fleet"), ("unchanged", "GET /ui/fleet (304)"),
                      ("host", "GET /host/NAME")):
        fig = Figure(f"dashboard {key} ({DASHBOARD_HOSTS} hosts)", f"python bench/dashboard.py --hosts {DASHBOARD_HOSTS}: {what}", unit="ms",
                     samples=[float(x) for x in http[key]["samples_ms"]], load=[load])
        fig.extra.update(bytes=http[key]["bytes"], gzip_bytes=http[key]["gzip_bytes"], status=http[key]["status"])
        figures[f"dashboard_{key}"] = fig
        print(f"  {what}: {fig.median:.1f} ms, {fig.extra['bytes']} B (gzip {fig.extra['gzip_bytes']} B)", flush=True)
    figures["dashboard_page"].extra["fleet_page_split"] = result["fleet_page_split"]
    return figures
