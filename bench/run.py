"""axis beside the floor, pyinfra and Ansible on the same real sshd test hosts, in one run.

    python bench/run.py [--hosts 20] [--reps 3] [--skip GROUP,...] [--out FILE]

Run by hand as root, with the project's virtualenv active (not part of pytest). It

1. installs the peers into their own virtualenv (bench/.peers-venv: ansible-core 2.19.x,
   pyinfra 3.x) unless they are there already;
2. starts N test hosts (tests.sshhosts; stopped again at the end, on errors and on Ctrl-C)
   and writes an Ansible and a pyinfra inventory for them: the hosts' addresses, user root,
   the fleet's key and known_hosts, strict host key checking on for every tool;
3. measures, each figure the median (min, max) of --reps repetitions after one untimed
   warm-up, the tools of a group interleaved repetition by repetition so that a change in
   the machine's load hits all of them alike:
   cold     the floor (bench/floor.py: a fresh Python process that imports asyncssh, opens one
            connection per host and runs `true` on each, all at once) / `axis status -o json` /
            no-op `axis apply` (panicRecovery, converged hosts) / pyinfra with 8 facts /
            `ansible all -m setup` (full and gather_subset=min) / `ansible-playbook --check`
            copying the same file / `ssh HOST true` to every host at once; no controller runs,
            and Ansible gets a fresh ControlPath directory per run (it connects cold);
   warm     the floor again / the same two axis commands while an `axis controller` runs on
            the same state and specs (started and stopped around this group) / the same two
            Ansible commands reusing one ControlPath directory, so its default ControlPersist
            (60 s) keeps the connections of one run for the next (Ansible's real warm path);
   startup  CLI start-up per command (--help, --version, get hosts, get claims, describe host,
            place, status --cached) on the bench's state DB, best and median of --startup-runs;
   passcpu  the controller's CPU per no-op host pass cold and warm (bench/pass_cpu.py, on hosts
            of its own once the bench's are down; reported "not available" without the script);
   placement  bench/placement.py (10,000 claims over 1,000 synthetic hosts), as a subprocess;
   memory   bench/rss.py: peak RSS of a process holding 1,000 hosts with facts;
   dashboard  bench/dashboard.py: the dashboard's fleet page, its live fragment and a host's page
            at 200 stored hosts (milliseconds per request, bytes plain and gzipped);
   (`--skip peers` leaves pyinfra, Ansible and `ssh true` out of cold and warm);
4. prints a table (each of issue 21's goals with PASS/FAIL, and figures for information) and
   writes JSON with every sample, the date, the commit and the load.

Times are wall-clock seconds of the whole command as a user runs it (interpreter start-up and
imports included, for every tool). The machine's load average is recorded with every figure,
and each run's CPU seconds, the tool's own and those spent inside the test hosts: the hosts
share this machine's cores with the tools, so a busy machine slows everything.

Peers get their usual fast settings: Ansible with ansible_python_interpreter set (no interpreter
discovery round trip) and `gather_facts: false` in the check playbook; pyinfra with --parallel N.
Test hosts are `<--prefix>1..N` on 10.77.<--net>.0/24: pick a prefix and net no other session
uses (see tests/sshhosts/README.md).
"""
# This file is the entry point (options, order of the groups, clean-up); the parts, by what they
# do: timing.py (running, timing, CPU accounting), fleet.py (the test hosts as the bench sees
# them), peers.py (the peers' virtualenv and inventories), tools.py (each tool's checked run),
# floor.py (the floor itself), fanout.py (the cold and warm groups), warm_controller.py (the
# controller of the warm group), startup.py (CLI start-up), offline.py (the figures other
# scripts measure: pass CPU, placement, memory, dashboard), report.py (table and JSON).

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import ROOT  # noqa: E402
from bench.fanout import measure_cold, measure_warm  # noqa: E402
from bench.fleet import Setup, start_fleet  # noqa: E402
from bench.offline import measure_dashboard, measure_memory, measure_pass_cpu, measure_placement  # noqa: E402
from bench.peers import PEERS_VENV, ensure_peers  # noqa: E402
from bench.report import report  # noqa: E402
from bench.startup import measure_startup, prepare_state  # noqa: E402
from bench.timing import BenchError, Figure, checked, run  # noqa: E402
from bench.tools import Tools  # noqa: E402

GROUPS = ("cold", "warm", "peers", "startup", "passcpu", "placement", "memory", "dashboard")


def _on_signal(signum: int, _frame: Any) -> None:
    """SIGTERM and SIGHUP end the run as Ctrl-C does: through `finally`, so hosts and controller stop."""
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--hosts", type=int, default=20, help="test hosts to start (default 20)")
    parser.add_argument("--reps", type=int, default=3, help="timed repetitions per figure (default 3, at least 3)")
    parser.add_argument("--startup-runs", type=int, default=10, help="timed runs per start-up command (default 10)")
    parser.add_argument("--out", type=Path, help="JSON result file [default: bench/results/results-N.json]")
    parser.add_argument("--dir", type=Path, help="fleet state directory [default: a temp directory]")
    parser.add_argument("--prefix", default="axis-bench", help="test host name prefix (default axis-bench)")
    parser.add_argument("--net", type=int, default=9, help="fleet network 10.77.NET.0/24 (default 9)")
    parser.add_argument("--peers-venv", type=Path, default=PEERS_VENV)
    parser.add_argument("--skip", default="", help=f"comma list of groups to skip: {','.join(GROUPS)}")
    args = parser.parse_args()
    if args.reps < 3:
        parser.error("--reps must be at least 3")
    skip = set(filter(None, args.skip.split(",")))
    if skip - set(GROUPS):
        parser.error(f"--skip: unknown group(s) {','.join(sorted(skip - set(GROUPS)))}; groups: {','.join(GROUPS)}")
    out = args.out or ROOT / "bench" / "results" / f"results-{args.hosts}.json"
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)

    meta: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "hosts": args.hosts, "reps": args.reps, "startup_runs": args.startup_runs, "skipped": sorted(skip),
        "cpus": os.cpu_count(), "python": platform.python_version(), "machine": platform.platform(),
        "axis_commit": _git_rev(), "load_at_start": os.getloadavg(),
    }
    figures: dict[str, Figure] = {}
    work = Path(tempfile.mkdtemp(prefix="axis-bench-"))
    fleet = None
    try:
        peers = "peers" not in skip and not {"cold", "warm"} <= skip
        if peers:
            meta["peers"] = ensure_peers(args.peers_venv)
            meta["openssh"] = run(["ssh", "-V"])[1].stderr.strip()
            print(f"peers: ansible-core {meta['peers']['ansible-core']}, pyinfra {meta['peers']['pyinfra']}; "
                  f"{meta['openssh']}", flush=True)
        tools = None
        if not {"cold", "warm", "startup"} <= skip:
            print(f"starting {args.hosts} test hosts ({args.prefix}1.., 10.77.{args.net}.0/24)...", flush=True)
            fleet = start_fleet(args.hosts, args.dir or work / "fleet", prefix=args.prefix, net=args.net)
            meta["fleet_start_seconds"] = round(fleet.timings.get("hosts", 0.0), 1)
            print(f"  {len(fleet.hosts)} hosts up in {meta['fleet_start_seconds']} s", flush=True)
            tools = Tools(Setup.of_fleet(fleet, work), args.peers_venv)
            checked(tools.axis_cmd("apply", "-f", str(tools.specs), "--no-converge"))
            if "cold" not in skip:
                print("cold: the floor, axis with no controller, peers connecting anew (converging the hosts once first)",
                      flush=True)
                figures.update(measure_cold(tools, args.reps, peers=peers))
            if "warm" not in skip:
                print("warm: the floor, axis beside a running controller, Ansible on its ControlPersist masters",
                      flush=True)
                figures.update(measure_warm(tools, args.reps, peers=peers))
            if "startup" not in skip:
                prepare_state(tools, have_facts=tools.axis_facts is not None)
            fleet.stop()  # the groups below contact no host of this fleet: give its CPU back
            fleet = None
            if "startup" not in skip:
                print(f"startup: axis commands on the bench's state DB, {args.startup_runs} runs each", flush=True)
                figures.update(measure_startup(tools, args.startup_runs))
        if "passcpu" not in skip:
            print(f"passcpu: controller CPU per no-op host pass (bench/pass_cpu.py, {args.hosts} hosts of its own)",
                  flush=True)
            passes = measure_pass_cpu(args.hosts, prefix=args.prefix, net=args.net)
            if isinstance(passes, str):
                print(f"  {passes}", flush=True)
                meta["pass_cpu_unavailable"] = passes
            else:
                figures.update(passes)
        if "placement" not in skip:
            print("placement (bench/placement.py: 10,000 claims over 1,000 synthetic hosts)", flush=True)
            figures.update(measure_placement(args.reps))
        if "memory" not in skip:
            print("memory (bench/rss.py: 1,000 hosts with facts held as the controller does)", flush=True)
            figures["rss"] = measure_memory(work, tools.axis_facts if tools else None, args.reps)
        if "dashboard" not in skip:
            print("dashboard (bench/dashboard.py: fleet page, fragment and host page at 200 stored hosts)", flush=True)
            figures.update(measure_dashboard(args.reps))
    except KeyboardInterrupt:
        print("\ninterrupted: stopping the test hosts", file=sys.stderr)
        return 130
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        meta["error"] = str(exc)
    finally:
        if fleet is not None:
            fleet.stop()
        shutil.rmtree(work, ignore_errors=True)

    report(figures, meta, out)  # after a failure too: the figures measured before it, and why it stopped
    return 1 if "error" in meta else 0


def _git_rev() -> str:
    """HEAD's short hash, `+dirty` when axis/ has uncommitted changes (the figures are of that code)."""
    proc = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no", "axis"],
                           capture_output=True, text=True).stdout.strip()
    return proc.stdout.strip() + ("+dirty" if dirty else "")


if __name__ == "__main__":
    sys.exit(main())
