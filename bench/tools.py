"""The tools on the test fleet, one timed and checked run each: axis (cold, or warm beside a
controller), the asyncssh floor (bench/floor.py), `ssh HOST true`, Ansible (cold, or warm on its
ControlPersist masters) and pyinfra. Every run's answer is checked, so a tool that failed or did
less than asked can never produce a fast figure."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import ROOT
from bench.fleet import Setup, write_axis_specs
from bench.peers import PYINFRA_FACTS, write_ansible, write_pyinfra
from bench.timing import BenchError, checked, run


class Tools:
    """Each tool's command line for the fleet (axis with its own state DB and the fleet's
    ssh_config; the peers from their virtualenv), its specs, inventories and playbook written."""

    def __init__(self, setup: Setup, peers: Path):
        self.setup = setup
        axis = shutil.which("axis", path=str(Path(sys.executable).parent)) or shutil.which("axis")
        if not axis:
            raise BenchError("no `axis` command: activate the project's virtualenv (pip install -e .)")
        self.axis = axis
        self.state = setup.work / "state.db"
        self.specs = write_axis_specs(setup)
        self.ansible = write_ansible(setup)
        self.pyinfra_inventory = write_pyinfra(setup)
        self.peers = peers / "bin"
        self.axis_facts: dict[str, Any] | None = None
        self._control_dirs = 0
        #: The warm ControlPath directory: Ansible's masters stay in it across runs (its real warm path).
        self.warm_control = self.ansible["dir"] / "cp-warm"

    def axis_cmd(self, *args: str) -> list[str]:
        """`axis` on the bench's state DB, reaching the hosts through the fleet's ssh_config."""
        return [self.axis, "--state", str(self.state), "--ssh-config", str(self.setup.ssh_config), *args]

    def floor(self) -> float:
        """The floor (bench/floor.py): one asyncssh connection and `true` per host, all at once."""
        took, _ = checked([sys.executable, str(ROOT / "bench" / "floor.py"), "--user", "root",
                           "--identity", str(self.setup.identity), "--known-hosts", str(self.setup.known_hosts),
                           *(address for _, address in self.setup.hosts)])
        return took

    # -- facts
    def axis_status(self) -> float:
        """Fresh facts of every host (cold, or through a running controller: the same document);
        keeps the first host's facts for the memory figure's synthetic fleet."""
        took, proc = checked(self.axis_cmd("status", "-o", "json", "--jobs", str(self.setup.n)))
        rows = json.loads(proc.stdout)["hosts"]
        bad = [f"{r['name']}: {r['status']} {r['reason'] or ''}" for r in rows if r["status"] != "complete"]
        if len(rows) != self.setup.n or bad:
            raise BenchError(f"axis status: {len(rows)} hosts, not complete: {bad}")
        self.axis_facts = rows[0]["facts"]
        return took

    def status_path(self) -> str:
        """Which way `axis status` reached the hosts, in its own `--debug` words (a controller's
        connections or its own), or that it said nothing (a build without the controller's socket)."""
        _, proc = run([self.axis, "--debug", *self.axis_cmd("status", "-o", "json")[1:]])
        said = [line.removeprefix("axis: ") for line in proc.stderr.splitlines() if line.startswith("axis: ")]
        return "; ".join(said) or f"nothing said (exit {proc.returncode}): its own connections"

    def _ansible_env(self, control: Path) -> dict[str, str]:
        return {**os.environ, "ANSIBLE_CONFIG": str(self.ansible["cfg"]),
                "ANSIBLE_SSH_CONTROL_PATH_DIR": str(control), "ANSIBLE_NOCOLOR": "1",
                "PATH": f"{self.peers}:{os.environ.get('PATH', '')}"}

    def close_masters(self, control: Path) -> None:
        """Stop the ControlPersist masters left in `control` (they would linger for 60 s)."""
        for sock in control.iterdir() if control.is_dir() else ():
            run(["ssh", "-o", f"ControlPath={sock}", "-O", "exit", "bench"], timeout=10)

    def _ansible(self, cmd: list[str], *, warm: bool,
                 masters: list[int] | None) -> tuple[float, subprocess.CompletedProcess[str]]:
        """One timed, checked Ansible command with its default ControlPersist (60 s). Cold: a fresh
        ControlPath directory, so it connects anew as a first run does (ControlPersist still reuses
        the connections between the steps of the run), its masters closed afterwards. Warm: the
        one kept directory, whose masters the previous run left; how many were alive before the
        run is appended to `masters` (N after the warm-up: every host reached warm)."""
        if warm:
            control = self.warm_control
            control.mkdir(exist_ok=True)
            if masters is not None:
                masters.append(sum(1 for p in control.iterdir() if p.is_socket()))
            return checked(cmd, env=self._ansible_env(control), cwd=self.ansible["dir"])
        self._control_dirs += 1
        control = self.ansible["dir"] / f"cp{self._control_dirs}"
        control.mkdir()
        try:
            return checked(cmd, env=self._ansible_env(control), cwd=self.ansible["dir"])
        finally:
            self.close_masters(control)

    def ansible_setup(self, subset: str | None = None, *, warm: bool = False, masters: list[int] | None = None) -> float:
        cmd = [str(self.peers / "ansible"), "all", "-m", "setup", "-f", str(self.setup.n)]
        if subset:
            cmd += ["-a", f"gather_subset={subset}"]
        took, proc = self._ansible(cmd, warm=warm, masters=masters)
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

    # -- no-op converge
    def axis_apply(self, *, expect_unchanged: bool = True) -> float:
        """`axis apply` converging the hosts itself (no controller runs): every host unchanged."""
        took, proc = checked(self.axis_cmd("apply", "-f", str(self.specs), "--jobs", str(self.setup.n), "-o", "json"))
        hosts = json.loads(proc.stdout)["hosts"]
        states = {h["status"] for h in hosts}
        if len(hosts) != self.setup.n or (expect_unchanged and states != {"unchanged"}):
            raise BenchError(f"axis apply: {len(hosts)} hosts, statuses {sorted(states)} (wanted unchanged)")
        return took

    def axis_apply_handed(self) -> float:
        """`axis apply` beside a running controller (the warm path): it stores, hands every host to
        the controller and waits for its answer, which for a host the apply did not change is its
        last pass (axis.reconcile.handover: no host is contacted); every host must come back Ready."""
        took, proc = checked(self.axis_cmd("apply", "-f", str(self.specs), "--jobs", str(self.setup.n), "-o", "json"))
        handed = json.loads(proc.stdout).get("handedOver") or []
        ready = [h["name"] for h in handed if h["ready"]]
        if len(ready) != self.setup.n:
            raise BenchError(f"axis apply beside the controller: {len(ready)}/{self.setup.n} hosts handed over "
                             f"and Ready: {handed}")
        return took

    def ssh_fanout(self) -> float:
        """`ssh HOST true` to every host at once, each an OpenSSH process of its own (for
        information: slower than the floor, which is one process)."""
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

    def ansible_check(self, *, warm: bool = False, masters: list[int] | None = None) -> float:
        cmd = [str(self.peers / "ansible-playbook"), "--check", "-f", str(self.setup.n), str(self.ansible["playbook"])]
        took, proc = self._ansible(cmd, warm=warm, masters=masters)
        recap = re.findall(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", proc.stdout, re.M)
        good = [h for h, ok, changed, unreachable, failed in recap if (ok, changed, unreachable, failed) == ("1", "0", "0", "0")]
        if len(good) != self.setup.n:
            raise BenchError(f"ansible-playbook --check: {len(good)}/{self.setup.n} hosts ok and unchanged:\n"
                             f"{proc.stdout[-2000:]}")
        return took
