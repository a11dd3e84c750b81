"""The tools on the test fleet, one timed and checked run each (figures 1 and 2): axis, the
OpenSSH floor, Ansible and pyinfra. Every run's answer is checked, so a tool that failed or
did less than asked can never produce a fast figure."""

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

from bench.fleet import Setup, write_axis_specs
from bench.peers import PYINFRA_FACTS, write_ansible, write_pyinfra
from bench.timing import BenchError, Figure, checked, measure, run


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

    def axis_cmd(self, *args: str) -> list[str]:
        """`axis` on the bench's state DB, reaching the hosts through the fleet's ssh_config."""
        return [self.axis, "--state", str(self.state), "--ssh-config", str(self.setup.ssh_config), *args]

    # -- figure 1: facts
    def axis_status(self) -> float:
        """Fresh facts of every host; keeps the first host's facts for figure 4's synthetic fleet."""
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

    def _ansible(self, cmd: list[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
        """One timed, checked Ansible command, connecting cold; its masters closed afterwards."""
        env = self._ansible_env()
        try:
            return checked(cmd, env=env, cwd=self.ansible["dir"])
        finally:
            self._close_masters(env)

    def ansible_setup(self, subset: str | None = None) -> float:
        cmd = [str(self.peers / "ansible"), "all", "-m", "setup", "-f", str(self.setup.n)]
        if subset:
            cmd += ["-a", f"gather_subset={subset}"]
        took, proc = self._ansible(cmd)
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
        """The floor: `ssh HOST true` to every host at once, each an OpenSSH process of its own."""
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
        cmd = [str(self.peers / "ansible-playbook"), "--check", "-f", str(self.setup.n), str(self.ansible["playbook"])]
        took, proc = self._ansible(cmd)
        recap = re.findall(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", proc.stdout, re.M)
        good = [h for h, ok, changed, unreachable, failed in recap if (ok, changed, unreachable, failed) == ("1", "0", "0", "0")]
        if len(good) != self.setup.n:
            raise BenchError(f"ansible-playbook --check: {len(good)}/{self.setup.n} hosts ok and unchanged:\n"
                             f"{proc.stdout[-2000:]}")
        return took


def measure_facts(tools: Tools, reps: int) -> dict[str, Figure]:
    """Figure 1: fresh facts of every host, axis against Ansible's setup module and pyinfra."""
    n = tools.setup.n
    fs = [(Figure("axis status", f"axis status -o json --jobs {n}"), tools.axis_status),
          (Figure("ansible -m setup", f"ansible all -m setup -f {n}"), tools.ansible_setup),
          (Figure("ansible setup min", f"ansible all -m setup -a gather_subset=min -f {n}"),
           lambda: tools.ansible_setup("min")),
          (Figure(f"pyinfra {len(PYINFRA_FACTS)} facts",
                  f"pyinfra inventory.py fact {' '.join(PYINFRA_FACTS)} --parallel {n}"),
           tools.pyinfra_facts)]
    measure(fs, reps, hosts_cpu=tools.setup.hosts_cpu)
    return dict(zip(("axis_status", "ansible_setup", "ansible_setup_min", "pyinfra_facts"), (fig for fig, _ in fs), strict=True))


def measure_noop(tools: Tools, reps: int) -> dict[str, Figure]:
    """Figure 2: a converge that has nothing to do, against the ssh floor and `ansible-playbook --check`."""
    n = tools.setup.n
    tools.axis_apply(expect_unchanged=False)
    fs = [(Figure("axis apply", f"axis apply -f specs --jobs {n} -o json"), tools.axis_apply),
          (Figure("ssh true fan-out", f"ssh -F ssh_config HOST true, all {n} at once"), tools.ssh_fanout),
          (Figure("ansible-playbook --check", f"ansible-playbook --check -f {n} (copy, gather_facts: false)"),
           tools.ansible_check)]
    measure(fs, reps, hosts_cpu=tools.setup.hosts_cpu)
    return dict(zip(("axis_apply", "ssh_true", "ansible_check"), (fig for fig, _ in fs), strict=True))
