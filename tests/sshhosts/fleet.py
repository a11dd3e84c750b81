"""A fleet: n test hosts on one private bridge plus the client files to reach them.

State (hosts, pids, loop devices) is saved as JSON in the work dir as soon as the hosts are
planned, so `Fleet.attach(dir).stop()` can tear a fleet down from another process (the CLI's
`down`) or after a crash. Starting also clears leftovers of earlier runs that used the same
host names, so a killed test session never blocks the next one.
"""

from __future__ import annotations

import json
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from . import base, keys, network
from .host import CGROUP_PARENT, TestHost
from .system import HarnessUnavailable, cgroup2_root, remove_tree, require_machine

STATE_FILE = "fleet.json"


@dataclass
class Fleet:
    """Running test hosts (`hosts`) and the OpenSSH client files for them: `ssh_config` has one
    `Host <name>` alias per host using `identity` and `known_hosts`."""

    workdir: Path
    hosts: list[TestHost]
    net: int = 0
    timings: dict[str, float] = field(default_factory=dict)  # seconds: base, hosts, stop
    owns_workdir: bool = False

    @property
    def ssh_config(self) -> Path:
        return self.workdir / "ssh_config"

    @property
    def known_hosts(self) -> Path:
        return self.workdir / "known_hosts"

    @property
    def identity(self) -> Path:
        return self.workdir / "id_ed25519"

    @classmethod
    def start(cls, n: int = 3, workdir: Path | None = None, prefix: str = "axis-t",
              net: int = 0, init: str = "auto") -> Fleet:
        """Start hosts `<prefix>1..<prefix>n` on bridge axisbr<net> (10.77.<net>.0/24) and
        return once every sshd answers. Different fleets running at once need different
        `prefix` and `net`. init: "auto" (systemd, falling back to sshd-only) or "sshd-only".

        Raises HarnessUnavailable when the machine cannot run hosts at all."""
        require_machine()
        began = time.monotonic()
        base_root = base.ensure_base()
        owns = workdir is None
        workdir = Path(tempfile.mkdtemp(prefix="axis-fleet-")) if workdir is None else workdir
        workdir.mkdir(parents=True, exist_ok=True)
        if (workdir / STATE_FILE).exists():
            cls.attach(workdir).stop()
        names = [f"{prefix}{i}" for i in range(1, n + 1)]
        planned = [TestHost(name, network.host_address(net, i), workdir / "hosts" / name)
                   for i, name in enumerate(names, 1)]
        fleet = cls(workdir.resolve(), planned, net, {"base": time.monotonic() - began}, owns)
        began = time.monotonic()
        for host in planned:
            host.stop()  # leftovers of a crashed run with the same names
        fleet._save()
        keys.generate_key(fleet.identity, "ed25519", f"axis-fleet@{workdir.name}")
        try:
            network.ensure_bridge(net)
            for host in planned:
                network.add_host(host.name, net, host.address)
        except Exception as exc:
            fleet.stop()
            raise HarnessUnavailable(f"cannot create the fleet network: {exc}") from exc
        fleet.hosts = fleet._boot_all(planned, base_root, init)
        fleet.timings["hosts"] = time.monotonic() - began
        fleet._write_client_files()
        fleet._save()
        return fleet

    @classmethod
    def attach(cls, workdir: Path) -> Fleet:
        """The fleet whose state is saved in `workdir` (started by another process)."""
        state = json.loads((workdir / STATE_FILE).read_text())
        hosts = [TestHost(h["name"], h["address"], Path(h["hostdir"]), h["port"], h["init"],
                          h["pid1"], h["loop"]) for h in state["hosts"]]
        return cls(Path(state["workdir"]), hosts, state["net"], state["timings"],
                   state["owns_workdir"])

    def stop(self) -> None:
        """Stop every host and remove bridge, state and generated files; idempotent."""
        began = time.monotonic()
        with ThreadPoolExecutor(max_workers=max(1, len(self.hosts))) as pool:
            list(pool.map(TestHost.stop, self.hosts))
        network.remove_bridge(self.net)
        try:
            (cgroup2_root() / CGROUP_PARENT).rmdir()  # only succeeds when no fleet is left
        except OSError:
            pass
        for name in (STATE_FILE, "ssh_config", "known_hosts", "id_ed25519", "id_ed25519.pub"):
            (self.workdir / name).unlink(missing_ok=True)
        remove_tree(self.workdir / "hosts")
        if self.owns_workdir:
            remove_tree(self.workdir)
        self.timings["stop"] = time.monotonic() - began

    def heal(self) -> None:
        """Undo faults (frozen cgroup, stopped sshd, changed host keys) on every host."""
        for host in self.hosts:
            host.heal()

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _boot_all(self, planned: list[TestHost], base_root: Path, init: str) -> list[TestHost]:
        """Boot all hosts in parallel; on any failure stop everything and re-raise."""
        client_key = self.identity.with_name("id_ed25519.pub").read_text()

        def boot(host: TestHost) -> TestHost:
            return TestHost.create(host.name, host.address, host.hostdir, base_root,
                                   client_key, init)

        with ThreadPoolExecutor(max_workers=len(planned)) as pool:
            futures = [pool.submit(boot, host) for host in planned]
            errors = [f.exception() for f in futures]
        if any(errors):
            self.hosts = [p if e else f.result() for p, f, e in zip(planned, futures, errors)]
            self.stop()
            raise next(e for e in errors if e)
        return [f.result() for f in futures]

    def _write_client_files(self) -> None:
        keys.write_known_hosts(self.known_hosts, [
            (h.name, h.address, keys.host_public_keys(h.root_path("/etc/ssh"))) for h in self.hosts])
        keys.write_ssh_config(self.ssh_config, [(h.name, h.address, h.port) for h in self.hosts],
                              self.identity, self.known_hosts)

    def _save(self) -> None:
        hosts = [{"name": h.name, "address": h.address, "hostdir": str(h.hostdir), "port": h.port,
                  "init": h.init, "pid1": h.pid1, "loop": h.loop} for h in self.hosts]
        state = {"workdir": str(self.workdir), "net": self.net, "timings": self.timings,
                 "owns_workdir": self.owns_workdir, "hosts": hosts}
        (self.workdir / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n")
