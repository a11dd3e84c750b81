"""The peers axis is measured against: ansible-core and pyinfra in a virtualenv of their own,
and their inventories for the test fleet (the same hosts, user, key and known_hosts as axis,
strict host key checking on)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bench import ROOT
from bench.fleet import Setup
from bench.timing import checked


PEERS_VENV = ROOT / "bench" / ".peers-venv"
PEER_REQUIREMENTS = ("ansible-core>=2.19,<2.20", "pyinfra>=3,<4")
#: pyinfra facts comparable to what `axis status` reports (it reports more: load, GPU, tools...).
PYINFRA_FACTS = ("server.Hostname", "server.Os", "server.Arch", "server.KernelVersion",
                 "server.LinuxDistribution", "hardware.Cpus", "hardware.Memory", "server.Mounts")


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


def write_ansible(setup: Setup) -> dict[str, Path]:
    """Ansible's inventory, config (forks = N) and a check playbook that copies the same
    panicRecovery sysctl file axis writes, rendered by axis's own driver."""
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
    """pyinfra's inventory.py: every host with the fleet's key and known_hosts, no agent."""
    d = setup.work / "pyinfra"
    d.mkdir()
    data = {"ssh_user": "root", "ssh_key": str(setup.identity), "ssh_known_hosts_file": str(setup.known_hosts),
            "ssh_strict_host_key_checking": "yes", "ssh_allow_agent": False, "ssh_look_for_keys": False}
    body = ",\n".join(f"    ({alias!r}, {{'ssh_hostname': {address!r}, **DATA}})" for alias, address in setup.hosts)
    (d / "inventory.py").write_text(f"DATA = {data!r}\n\nhosts = [\n{body},\n]\n")
    return d / "inventory.py"

