"""axis against Ansible and pyinfra on the same real sshd test hosts, in one run.

    python bench/run.py [--hosts 20] [--reps 3] [--out bench/results-20.json]

Run by hand as root, with the project's virtualenv active (not part of pytest). It

1. installs the peers into their own virtualenv (bench/.peers-venv: ansible-core 2.19.x,
   pyinfra 3.x) unless they are there already;
2. starts N test hosts (tests.sshhosts; stopped again at the end, on errors and on Ctrl-C)
   and writes an Ansible and a pyinfra inventory for them: the hosts' addresses, user root,
   the fleet's key and known_hosts, strict host key checking on for every tool;
3. measures, each figure the median (min, max) of --reps repetitions after one untimed
   warm-up, the tools of a figure interleaved repetition by repetition so that a change in
   the machine's load hits all of them alike:
   facts      `axis status -o json` (fresh) / `ansible all -m setup` (full and
              gather_subset=min) / `pyinfra inventory.py fact` with 8 facts;
   no-op      `axis apply` (panicRecovery) on converged hosts / `ssh HOST true` to every
              host at once (the floor) / `ansible-playbook --check` copying the same file;
   placement  bench/placement.py (10,000 claims over 1,000 synthetic hosts), as a subprocess;
   memory     bench/rss.py: peak RSS of a process holding 1,000 hosts with facts;
4. prints a table (figure, axis, peer, ratio axis/peer, target, pass/fail) and writes JSON.

Times are wall-clock seconds of the whole command as a user runs it (interpreter start-up and
imports included, for every tool). The machine's load average is recorded with every figure,
and each run's CPU seconds, the tool's own and those spent inside the test hosts: the hosts
share this machine's cores with the tools, so a busy machine slows everything.

Peers get their usual fast settings: Ansible with ansible_python_interpreter set (no interpreter
discovery round trip), its default ControlPersist (a fresh ControlPath directory per run, so every
run connects cold as axis does) and `gather_facts: false` in the check playbook; pyinfra with
--parallel N. Test hosts are `<--prefix>1..N` on 10.77.<--net>.0/24: pick a prefix and net no
other session uses (see tests/sshhosts/README.md).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PEERS_VENV = ROOT / "bench" / ".peers-venv"
PEER_REQUIREMENTS = ("ansible-core>=2.19,<2.20", "pyinfra>=3,<4")
#: pyinfra facts comparable to what `axis status` reports (it reports more: load, GPU, tools...).
PYINFRA_FACTS = ("server.Hostname", "server.Os", "server.Arch", "server.KernelVersion",
                 "server.LinuxDistribution", "hardware.Cpus", "hardware.Memory", "server.Mounts")
MiB = 1024 * 1024


class BenchError(RuntimeError):
    """A tool failed or answered wrongly: the figure would be meaningless."""


# ---------------------------------------------------------------------------------------------
# running and timing commands

@dataclass
class Figure:
    """Samples (seconds or MiB) of one measured thing."""

    name: str
    command: str
    unit: str = "s"
    samples: list[float] = field(default_factory=list)
    load: list[float] = field(default_factory=list)  # 1-min load average before each sample
    cpu_client: list[float] = field(default_factory=list)  # CPU seconds of the tool's processes
    cpu_hosts: list[float] = field(default_factory=list)  # CPU seconds used inside the test hosts
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def as_json(self) -> dict[str, Any]:
        out = {"command": self.command, "unit": self.unit, "median": round(self.median, 4),
               "min": round(min(self.samples), 4), "max": round(max(self.samples), 4),
               "samples": [round(s, 4) for s in self.samples], "load1_before": self.load}
        if self.cpu_client:
            out["cpu_seconds_client_median"] = round(statistics.median(self.cpu_client), 3)
            out["cpu_seconds_hosts_median"] = round(statistics.median(self.cpu_hosts), 3)
            out["cpu_seconds_client"] = [round(c, 3) for c in self.cpu_client]
            out["cpu_seconds_hosts"] = [round(c, 3) for c in self.cpu_hosts]
        return {**out, **self.extra}


def run(cmd: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None,
        timeout: float = 600) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    return time.perf_counter() - started, proc


def checked(cmd: list[str], **kwargs: Any) -> tuple[float, subprocess.CompletedProcess[str]]:
    took, proc = run(cmd, **kwargs)
    if proc.returncode != 0:
        tail = (proc.stderr.strip() or proc.stdout.strip())[-2000:]
        raise BenchError(f"`{' '.join(cmd)}` exited {proc.returncode}:\n{tail}")
    return took, proc


def load1() -> float:
    return round(os.getloadavg()[0], 2)


def children_cpu() -> float:
    """CPU seconds of every finished child process (and the descendants they waited for)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(figures: list[tuple[Figure, Callable[[], float]]], reps: int, *,
            hosts_cpu: Callable[[], float], warmup: bool = True) -> None:
    """Warm every tool up once, then `reps` rounds, each tool once per round (interleaved).

    Besides wall time, each run's CPU seconds: the tool's own processes (client) and everything
    that ran inside the test hosts (sshd, shells, probes). On this shared 2-core machine the wall
    time follows the load; the CPU seconds barely do."""
    if warmup:
        for figure, once in figures:
            print(f"  warm-up: {figure.name}", flush=True)
            once()
    for rep in range(reps):
        for figure, once in figures:
            figure.load.append(load1())
            client, hosts = children_cpu(), hosts_cpu()
            figure.samples.append(once())
            time.sleep(0.2)  # let the hosts finish closing the sessions before reading their CPU
            figure.cpu_client.append(children_cpu() - client)
            figure.cpu_hosts.append(hosts_cpu() - hosts)
            print(f"  rep {rep + 1}/{reps}: {figure.name:26s} {figure.samples[-1]:7.3f} {figure.unit}"
                  f"   cpu: client {figure.cpu_client[-1]:6.2f} s, hosts {figure.cpu_hosts[-1]:6.2f} s"
                  f"   (load {figure.load[-1]})", flush=True)


# ---------------------------------------------------------------------------------------------
# the peers' virtualenv

def ensure_peers(venv: Path) -> dict[str, str]:
    """Create the peers' virtualenv and install the pinned peers if missing; return versions."""
    stamp = venv / ".axis-bench-requirements"
    wanted = "\n".join(PEER_REQUIREMENTS)
    if not (stamp.exists() and stamp.read_text() == wanted and (venv / "bin" / "ansible").exists()
            and (venv / "bin" / "pyinfra").exists()):
        print(f"installing peers into {venv}: {', '.join(PEER_REQUIREMENTS)}", flush=True)
        if not (venv / "bin" / "python").exists():
            checked([sys.executable, "-m", "venv", "--clear", str(venv)], timeout=300)
        checked([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                 *PEER_REQUIREMENTS], timeout=900)
        stamp.write_text(wanted)
    _, proc = checked([str(venv / "bin" / "python"), "-c",
                       "import importlib.metadata as m; print(m.version('ansible-core'), m.version('pyinfra'))"])
    ansible, pyinfra = proc.stdout.split()
    return {"ansible-core": ansible, "pyinfra": pyinfra}


# ---------------------------------------------------------------------------------------------
# inventories and specs for the fleet

@dataclass
class Setup:
    hosts: list[tuple[str, str]]  # (alias, address)
    ssh_config: Path
    known_hosts: Path
    identity: Path
    work: Path  # bench scratch directory (inventories, state DB, specs)
    cgroups: list[Path] = field(default_factory=list)  # each host's cgroup (all its processes)

    @property
    def n(self) -> int:
        return len(self.hosts)

    def hosts_cpu(self) -> float:
        """CPU seconds used so far inside all the test hosts (cgroup v2 cpu.stat usage_usec)."""
        total = 0
        for cgroup in self.cgroups:
            try:
                total += int((cgroup / "cpu.stat").read_text().split()[1])
            except (OSError, IndexError, ValueError):
                pass
        return total / 1e6


def write_axis_specs(setup: Setup) -> Path:
    specs = setup.work / "specs"
    specs.mkdir()
    docs = [f"apiVersion: axis/v1\nkind: Host\nmetadata: {{name: {alias}}}\nspec:\n"
            f"  address: {alias}\n  features:\n    panicRecovery: {{panicSeconds: 10}}\n"
            for alias, _ in setup.hosts]
    (specs / "hosts.yaml").write_text("---\n".join(docs))
    return specs


def write_ansible(setup: Setup) -> dict[str, Path]:
    from axis.drivers.features.panic_recovery import PATH, render
    from axis.specs.features import PanicRecoverySettings

    d = setup.work / "ansible"
    d.mkdir(mode=0o700)
    lines = ["[fleet]"] + [f"{alias} ansible_host={address}" for alias, address in setup.hosts]
    lines += ["", "[fleet:vars]", "ansible_user=root", f"ansible_ssh_private_key_file={setup.identity}",
              "ansible_python_interpreter=/usr/bin/python3",
              f"ansible_ssh_common_args='-o UserKnownHostsFile={setup.known_hosts} "
              f"-o StrictHostKeyChecking=yes -o IdentitiesOnly=yes'"]
    (d / "inventory.ini").write_text("\n".join(lines) + "\n")
    (d / "ansible.cfg").write_text(
        "[defaults]\n"
        f"inventory = {d / 'inventory.ini'}\n"
        "host_key_checking = True\n"
        f"forks = {setup.n}\n"
        "retry_files_enabled = False\n"
        f"local_tmp = {d / 'local-tmp'}\n")
    content = render(PanicRecoverySettings.model_validate({"panicSeconds": 10}))
    (d / "panic-recovery.yml").write_text(
        "- hosts: all\n"
        "  gather_facts: false\n"
        "  tasks:\n"
        "    - name: panicRecovery sysctl file (what axis writes)\n"
        "      ansible.builtin.copy:\n"
        f"        dest: {PATH}\n"
        f"        content: {json.dumps(content)}\n"
        "        owner: root\n"
        "        group: root\n"
        "        mode: \"0644\"\n")
    return {"dir": d, "cfg": d / "ansible.cfg", "playbook": d / "panic-recovery.yml"}


def write_pyinfra(setup: Setup) -> Path:
    d = setup.work / "pyinfra"
    d.mkdir()
    data = {"ssh_user": "root", "ssh_key": str(setup.identity), "ssh_known_hosts_file": str(setup.known_hosts),
            "ssh_strict_host_key_checking": "yes", "ssh_allow_agent": False, "ssh_look_for_keys": False}
    body = ",\n".join(f"    ({alias!r}, {{'ssh_hostname': {address!r}, **DATA}})" for alias, address in setup.hosts)
    (d / "inventory.py").write_text(f"DATA = {data!r}\n\nhosts = [\n{body},\n]\n")
    return d / "inventory.py"


# ---------------------------------------------------------------------------------------------
# the tools, one timed run each

class Tools:
    def __init__(self, setup: Setup, peers: Path):
        self.setup = setup
        self.axis = shutil.which("axis", path=str(Path(sys.executable).parent)) or shutil.which("axis")
        if not self.axis:
            raise BenchError("no `axis` command: activate the project's virtualenv (pip install -e .)")
        self.state = setup.work / "state.db"
        self.specs = write_axis_specs(setup)
        self.ansible = write_ansible(setup)
        self.pyinfra_inventory = write_pyinfra(setup)
        self.peers = peers / "bin"
        self.axis_facts: dict[str, Any] | None = None
        self._control_dirs = 0

    def axis_cmd(self, *args: str) -> list[str]:
        return [self.axis, "--state", str(self.state), "--ssh-config", str(self.setup.ssh_config), *args]

    # -- figure 1: facts
    def axis_status(self) -> float:
        took, proc = checked(self.axis_cmd("status", "-o", "json", "--jobs", str(self.setup.n)))
        rows = json.loads(proc.stdout)["hosts"]
        bad = [f"{r['name']}: {r['status']} {r['reason'] or ''}" for r in rows if r["status"] != "complete"]
        if len(rows) != self.setup.n or bad:
            raise BenchError(f"axis status: {len(rows)} hosts, not complete: {bad}")
        self.axis_facts = rows[0]["facts"]
        return took

    def _ansible_env(self) -> dict[str, str]:
        # A fresh ControlPath directory per run: every run opens its connections cold, as axis
        # does; ansible's own ControlPersist still reuses them between the steps of a run.
        self._control_dirs += 1
        control = self.ansible["dir"] / f"cp{self._control_dirs}"
        control.mkdir()
        return {**os.environ, "ANSIBLE_CONFIG": str(self.ansible["cfg"]),
                "ANSIBLE_SSH_CONTROL_PATH_DIR": str(control), "ANSIBLE_NOCOLOR": "1",
                "PATH": f"{self.peers}:{os.environ.get('PATH', '')}"}

    def _close_masters(self, env: dict[str, str]) -> None:
        """Stop the ControlPersist masters a run left (they would linger for 60 s)."""
        for sock in Path(env["ANSIBLE_SSH_CONTROL_PATH_DIR"]).iterdir():
            run(["ssh", "-o", f"ControlPath={sock}", "-O", "exit", "bench"], timeout=10)

    def ansible_setup(self, subset: str | None = None) -> float:
        env = self._ansible_env()
        cmd = [str(self.peers / "ansible"), "all", "-m", "setup", "-f", str(self.setup.n)]
        if subset:
            cmd += ["-a", f"gather_subset={subset}"]
        try:
            took, proc = checked(cmd, env=env, cwd=self.ansible["dir"])
        finally:
            self._close_masters(env)
        ok = proc.stdout.count("| SUCCESS")
        if ok != self.setup.n:
            raise BenchError(f"ansible setup: {ok}/{self.setup.n} hosts SUCCESS:\n{proc.stdout[-2000:]}")
        return took

    def pyinfra_facts(self) -> float:
        cmd = [str(self.peers / "pyinfra"), str(self.pyinfra_inventory), "fact", *PYINFRA_FACTS,
               "--parallel", str(self.setup.n)]
        took, proc = checked(cmd, cwd=self.pyinfra_inventory.parent)
        output = proc.stdout + proc.stderr
        connected = len(re.findall(r"\]\s+Connected", output))
        loaded = len({(host, fact) for host, fact in re.findall(r"\[(\S+)\]\s+Loaded fact (\S+)", output)
                      if fact in PYINFRA_FACTS})
        if connected != self.setup.n or loaded != self.setup.n * len(PYINFRA_FACTS) or "Traceback" in output:
            raise BenchError(f"pyinfra: {connected}/{self.setup.n} hosts connected, {loaded} facts loaded:\n"
                             f"{proc.stderr[-2000:]}")
        return took

    # -- figure 2: no-op converge
    def axis_apply(self, *, expect_unchanged: bool = True) -> float:
        took, proc = checked(self.axis_cmd("apply", "-f", str(self.specs), "--jobs", str(self.setup.n), "-o", "json"))
        hosts = json.loads(proc.stdout)["hosts"]
        states = {h["status"] for h in hosts}
        if len(hosts) != self.setup.n or (expect_unchanged and states != {"unchanged"}):
            raise BenchError(f"axis apply: {len(hosts)} hosts, statuses {sorted(states)} (wanted unchanged)")
        return took

    def ssh_fanout(self) -> float:
        started = time.perf_counter()
        procs = [subprocess.Popen(["ssh", "-F", str(self.setup.ssh_config), alias, "true"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                 for alias, _ in self.setup.hosts]
        errors = [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in procs]
        took = time.perf_counter() - started
        failed = [e for rc, e in errors if rc != 0]
        if failed:
            raise BenchError(f"ssh true: {len(failed)} hosts failed: {failed[0].strip()}")
        return took

    def ansible_check(self) -> float:
        env = self._ansible_env()
        cmd = [str(self.peers / "ansible-playbook"), "--check", "-f", str(self.setup.n), str(self.ansible["playbook"])]
        try:
            took, proc = checked(cmd, env=env, cwd=self.ansible["dir"])
        finally:
            self._close_masters(env)
        recap = re.findall(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", proc.stdout, re.M)
        good = [h for h, ok, changed, unreachable, failed in recap if (ok, changed, unreachable, failed) == ("1", "0", "0", "0")]
        if len(good) != self.setup.n:
            raise BenchError(f"ansible-playbook --check: {len(good)}/{self.setup.n} hosts ok and unchanged:\n"
                             f"{proc.stdout[-2000:]}")
        return took


# ---------------------------------------------------------------------------------------------
# figures 3 and 4 (no test hosts needed)

def placement_run() -> dict[str, float]:
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


# ---------------------------------------------------------------------------------------------
# the table

@dataclass
class Row:
    figure: str
    axis: str
    peer: str
    ratio: str
    target: str
    result: str  # PASS / FAIL / "" (for information)


def fmt(fig: Figure) -> str:
    if fig.unit == "s":
        return f"{fig.median:.3f} s [{min(fig.samples):.3f}-{max(fig.samples):.3f}]"
    return f"{fig.median:.1f} {fig.unit} [{min(fig.samples):.1f}-{max(fig.samples):.1f}]"


def speed_row(figure: str, axis: Figure, peer: Figure, need: float | None) -> Row:
    ratio = axis.median / peer.median
    faster = peer.median / axis.median
    target = f"axis >= {need:g}x faster" if need else "(for information)"
    result = ("PASS" if faster >= need else "FAIL") if need else ""
    speed = f"{faster:.1f}x faster" if faster >= 1 else f"{1 / faster:.1f}x slower"
    return Row(figure, fmt(axis), f"{peer.name}: {fmt(peer)}", f"{ratio:.3f} (axis {speed})", target, result)


def build_rows(f: dict[str, Figure]) -> list[Row]:
    floor = f["ssh_true"]
    within = f["axis_apply"].median / floor.median
    rows = [
        speed_row("1 facts", f["axis_status"], f["ansible_setup"], 10),
        speed_row("1 facts", f["axis_status"], f["ansible_setup_min"], None),
        speed_row("1 facts", f["axis_status"], f["pyinfra_facts"], 3),
        Row("2 no-op converge", fmt(f["axis_apply"]), f"{floor.name}: {fmt(floor)}", f"{within:.2f}",
            "axis <= 2x the ssh floor", "PASS" if within <= 2 else "FAIL"),
        speed_row("2 no-op converge", f["axis_apply"], f["ansible_check"], None),
        Row("3 placement", f"scoring {fmt(f['placement_scoring'])}", "-", "-", "< 1 s for 10,000 claims",
            "PASS" if f["placement_scoring"].median < 1 else "FAIL"),
        Row("3 placement", f"with ledger writes {fmt(f['placement_ledger'])}", "-", "-", "(for information)", ""),
        Row("4 memory", f"peak RSS {fmt(f['rss'])}", "-", "-", "< 150 MB at 1,000 hosts",
            "PASS" if f["rss"].median < 150 else "FAIL"),
    ]
    return rows


def print_table(rows: list[Row]) -> None:
    head = Row("FIGURE", "AXIS (median [min-max])", "PEER (median [min-max])", "AXIS/PEER", "TARGET", "RESULT")
    widths = [max(len(getattr(r, k)) for r in [head, *rows]) for k in Row.__dataclass_fields__]
    for r in [head, *rows]:
        print("  ".join(getattr(r, k).ljust(w) for k, w in zip(Row.__dataclass_fields__, widths)).rstrip())


# ---------------------------------------------------------------------------------------------

def _on_signal(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--hosts", type=int, default=20, help="test hosts to start (default 20)")
    parser.add_argument("--reps", type=int, default=3, help="timed repetitions per figure (default 3, at least 3)")
    parser.add_argument("--out", type=Path, help="JSON result file [default: bench/results/results-N.json]")
    parser.add_argument("--dir", type=Path, help="fleet state directory [default: a temp directory]")
    parser.add_argument("--prefix", default="axis-bench", help="test host name prefix (default axis-bench)")
    parser.add_argument("--net", type=int, default=9, help="fleet network 10.77.NET.0/24 (default 9)")
    parser.add_argument("--peers-venv", type=Path, default=PEERS_VENV)
    parser.add_argument("--skip", default="", help="comma list of figures to skip: facts,noop,placement,memory")
    args = parser.parse_args()
    if args.reps < 3:
        parser.error("--reps must be at least 3")
    skip = set(filter(None, args.skip.split(",")))
    out = args.out or ROOT / "bench" / "results" / f"results-{args.hosts}.json"
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)

    from tests.sshhosts import Fleet, HarnessUnavailable

    meta: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "hosts": args.hosts, "reps": args.reps, "cpus": os.cpu_count(), "python": platform.python_version(),
        "machine": platform.platform(), "axis_commit": _git_rev(), "load_at_start": os.getloadavg(),
    }
    figures: dict[str, Figure] = {}
    work = Path(tempfile.mkdtemp(prefix="axis-bench-"))
    fleet = None
    try:
        meta["peers"] = ensure_peers(args.peers_venv)
        meta["openssh"] = run(["ssh", "-V"])[1].stderr.strip()
        print(f"peers: ansible-core {meta['peers']['ansible-core']}, pyinfra {meta['peers']['pyinfra']}; "
              f"{meta['openssh']}", flush=True)
        if not {"facts", "noop"} <= skip:
            print(f"starting {args.hosts} test hosts ({args.prefix}1.., 10.77.{args.net}.0/24)...", flush=True)
            fleet_dir = args.dir or work / "fleet"
            try:
                fleet = Fleet.start(args.hosts, fleet_dir, prefix=args.prefix, net=args.net)
            except HarnessUnavailable as exc:
                raise BenchError(f"test hosts unavailable: {exc.reason}") from exc
            meta["fleet_start_seconds"] = round(fleet.timings.get("hosts", 0.0), 1)
            print(f"  {len(fleet.hosts)} hosts up in {meta['fleet_start_seconds']} s", flush=True)
            setup = Setup([(h.name, h.address) for h in fleet.hosts], fleet.ssh_config, fleet.known_hosts,
                          fleet.identity, work, [h.cgroup for h in fleet.hosts])
            tools = Tools(setup, args.peers_venv)
            checked(tools.axis_cmd("apply", "-f", str(tools.specs), "--no-converge"))
            n = setup.n
            if "facts" not in skip:
                print("figure 1: facts", flush=True)
                fs = [(Figure("axis status", f"axis status -o json --jobs {n}"), tools.axis_status),
                      (Figure("ansible -m setup", f"ansible all -m setup -f {n}"), tools.ansible_setup),
                      (Figure("ansible setup min", f"ansible all -m setup -a gather_subset=min -f {n}"),
                       lambda: tools.ansible_setup("min")),
                      (Figure(f"pyinfra {len(PYINFRA_FACTS)} facts",
                              f"pyinfra inventory.py fact {' '.join(PYINFRA_FACTS)} --parallel {n}"),
                       tools.pyinfra_facts)]
                measure(fs, args.reps, hosts_cpu=setup.hosts_cpu)
                figures.update(zip(("axis_status", "ansible_setup", "ansible_setup_min", "pyinfra_facts"),
                                   (fig for fig, _ in fs)))
            if "noop" not in skip:
                print("figure 2: no-op converge (first converging the hosts once)", flush=True)
                tools.axis_apply(expect_unchanged=False)
                fs = [(Figure("axis apply", f"axis apply -f specs --jobs {n} -o json"), tools.axis_apply),
                      (Figure("ssh true fan-out", f"ssh -F ssh_config HOST true, all {n} at once"), tools.ssh_fanout),
                      (Figure("ansible-playbook --check", f"ansible-playbook --check -f {n} (copy, gather_facts: false)"),
                       tools.ansible_check)]
                measure(fs, args.reps, hosts_cpu=setup.hosts_cpu)
                figures.update(zip(("axis_apply", "ssh_true", "ansible_check"), (fig for fig, _ in fs)))
            facts = tools.axis_facts
        else:
            facts = None
        if fleet is not None:
            fleet.stop()  # figures 3 and 4 need no hosts: give their CPU back
            fleet = None
        if "placement" not in skip:
            print("figure 3: placement (bench/placement.py: 10,000 claims over 1,000 synthetic hosts)", flush=True)
            scoring = Figure("placement scoring", "python bench/placement.py (scoring alone)")
            ledger = Figure("placement with ledger", "python bench/placement.py (full pass, one transaction per bind)")
            for rep in range(args.reps):
                scoring.load.append(load1())
                ledger.load.append(scoring.load[-1])
                result = placement_run()
                scoring.samples.append(result["scoring"])
                ledger.samples.append(result["ledger_pass"])
                scoring.extra.setdefault("runs", []).append(result)
                print(f"  rep {rep + 1}/{args.reps}: scoring {result['scoring']:.3f} s, loading {result['loading']:.3f} s, "
                      f"ledger pass {result['ledger_pass']:.2f} s (load {scoring.load[-1]})", flush=True)
            figures.update(placement_scoring=scoring, placement_ledger=ledger)
        if "memory" not in skip:
            print("figure 4: memory (bench/rss.py: 1,000 hosts with facts held as the controller does)", flush=True)
            rss = Figure("peak RSS", "python bench/rss.py hold (1,000 hosts, 20 observations each in the DB)", unit="MB")
            for rep in range(args.reps):
                rss.load.append(load1())
                result = rss_run(work, facts)
                rss.samples.append(result["peak_rss_kib"] / 1024)
                rss.extra.setdefault("runs", []).append(result)
                print(f"  rep {rep + 1}/{args.reps}: peak RSS {rss.samples[-1]:.1f} MiB "
                      f"(after imports {result['peak_rss_after_imports_kib'] / 1024:.1f} MiB; "
                      f"{result['hosts']} hosts, {result['facts']} Facts models, {result['candidates']} candidates, "
                      f"~{result['facts_json_bytes_per_host']} B of facts JSON per host)", flush=True)
            figures["rss"] = rss
    except KeyboardInterrupt:
        print("\ninterrupted: stopping the test hosts", file=sys.stderr)
        return 130
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    finally:
        if fleet is not None:
            fleet.stop()
        shutil.rmtree(work, ignore_errors=True)

    meta["load_at_end"] = os.getloadavg()
    print(f"\nN = {args.hosts} hosts, {args.reps} repetitions, {os.cpu_count()} CPUs; "
          f"load average at start {_loads(meta['load_at_start'])}, at end {_loads(meta['load_at_end'])}")
    print("Peak RSS = ru_maxrss of a process that imported all of axis and holds 1,000 hosts' specs, their newest "
          "facts as Facts models and the placement index (MB = MiB).")
    complete = {"axis_status", "ansible_setup", "ansible_setup_min", "pyinfra_facts", "axis_apply", "ssh_true",
                "ansible_check", "placement_scoring", "placement_ledger", "rss"} <= figures.keys()
    rows = build_rows(figures) if complete else []
    if rows:
        print()
        print_table(rows)
        print("\nCPU seconds per run (median): the tool's own processes / inside the test hosts / total")
        for key in ("axis_status", "ansible_setup", "ansible_setup_min", "pyinfra_facts",
                    "axis_apply", "ssh_true", "ansible_check"):
            fig = figures[key]
            client, hosts = statistics.median(fig.cpu_client), statistics.median(fig.cpu_hosts)
            print(f"  {fig.name:26s} {client:6.2f} / {hosts:6.2f} / {client + hosts:6.2f}")
    result = {"meta": meta, "figures": {k: v.as_json() for k, v in figures.items()},
              "table": [r.__dict__ for r in rows]}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwritten: {out}")
    return 0


def _loads(loads: Any) -> str:
    return " ".join(f"{x:.2f}" for x in loads)


def _git_rev() -> str:
    proc = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no", "axis"],
                           capture_output=True, text=True).stdout.strip()
    return proc.stdout.strip() + ("+dirty" if dirty else "")


if __name__ == "__main__":
    sys.exit(main())
