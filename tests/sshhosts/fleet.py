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
from typing import IO

from . import base, keys, network
from .host import TestHost
from .system import (CGROUP_PARENT, CommandFailed, HarnessUnavailable, cgroup2_root, claim,
                     ensure_inotify_instances, release, remove_tree, require_machine)

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
    _locks: list[IO[str]] = field(default_factory=list, repr=False)  # see system.claim

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
        ensure_inotify_instances()
        owns = workdir is None
        workdir = Path(tempfile.mkdtemp(prefix="axis-fleet-")) if workdir is None else workdir
        workdir.mkdir(parents=True, exist_ok=True)
        fleet = cls(workdir.resolve(), [], net, {}, owns, [claim(f"prefix-{prefix}")])
        try:
            fleet._locks.append(claim(f"net-{net}"))
            if (workdir / STATE_FILE).exists():
                cls.attach(workdir).stop()
            fleet._start([f"{prefix}{i}" for i in range(1, n + 1)], init)
        except BaseException:
            fleet.stop()
            raise
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
        for lock in self._locks:
            release(lock)
        self._locks.clear()
        self.timings["stop"] = time.monotonic() - began

    def heal(self) -> None:
        """Undo faults (frozen cgroup, stopped sshd, changed host keys) on every host."""
        for host in self.hosts:
            host.heal()

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _start(self, names: list[str], init: str) -> None:
        began = time.monotonic()
        base_root = base.ensure_base()
        self.timings["base"] = time.monotonic() - began
        began = time.monotonic()
        self.hosts = [TestHost(name, network.host_address(self.net, i), self.workdir / "hosts" / name)
                      for i, name in enumerate(names, 1)]
        for host in self.hosts:
            host.stop()  # leftovers of a crashed run with the same names
        self._save()
        keys.generate_key(self.identity, "ed25519", f"axis-fleet@{self.workdir.name}")
        try:
            network.ensure_bridge(self.net)
            for host in self.hosts:
                network.add_host(host.name, self.net, host.address)
        except CommandFailed as exc:
            raise HarnessUnavailable(f"cannot create the fleet network: {exc}") from exc
        self.hosts = self._boot_all(self.hosts, base_root, init)
        self.timings["hosts"] = time.monotonic() - began
        self._write_client_files()
        self._save()

    def _boot_all(self, planned: list[TestHost], base_root: Path, init: str) -> list[TestHost]:
        """Boot all hosts in parallel; re-raise the first failure."""
        client_key = self.identity.with_name("id_ed25519.pub").read_text()

        def boot(host: TestHost) -> TestHost:
            return TestHost.create(host.name, host.address, host.hostdir, base_root,
                                   client_key, init)

        with ThreadPoolExecutor(max_workers=len(planned)) as pool:
            futures = [pool.submit(boot, host) for host in planned]
            errors = [f.exception() for f in futures]
        if any(errors):  # keep the booted ones so that stop() can halt them properly
            self.hosts = [p if e else f.result() for p, f, e in zip(planned, futures, errors, strict=True)]
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
