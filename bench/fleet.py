"""The test fleet as the benchmark sees it: the hosts' aliases and addresses, the fleet's ssh
files, each host's cgroup (to count the CPU spent inside the hosts), and axis's specs for it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bench.timing import BenchError

if TYPE_CHECKING:
    from tests.sshhosts import Fleet


@dataclass
class Setup:
    """What every tool is given about the fleet, and where the bench writes its files."""

    hosts: list[tuple[str, str]]  # (alias, address)
    ssh_config: Path
    known_hosts: Path
    identity: Path
    work: Path  # bench scratch directory (inventories, state DB, specs)
    cgroups: list[Path] = field(default_factory=list)  # each host's cgroup (all its processes)

    @classmethod
    def of_fleet(cls, fleet: Fleet, work: Path) -> Setup:
        """The set-up of a started tests.sshhosts Fleet, with `work` as the scratch directory."""
        return cls([(h.name, h.address) for h in fleet.hosts], fleet.ssh_config, fleet.known_hosts,
                   fleet.identity, work, [h.cgroup for h in fleet.hosts])

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


def start_fleet(hosts: int, directory: Path, *, prefix: str, net: int) -> Fleet:
    """Start `hosts` test hosts (tests.sshhosts); a harness this machine cannot run is a BenchError.
    Imported here, not at the top: `--help` and a run of figures 3 and 4 alone need no harness."""
    from tests.sshhosts import Fleet, HarnessUnavailable

    try:
        return Fleet.start(hosts, directory, prefix=prefix, net=net)
    except HarnessUnavailable as exc:
        raise BenchError(f"test hosts unavailable: {exc.reason}") from exc


def write_axis_specs(setup: Setup) -> Path:
    """One Host per test host with the panicRecovery feature (what the no-op converge applies)."""
    specs = setup.work / "specs"
    specs.mkdir()
    docs = [f"apiVersion: axis/v1\nkind: Host\nmetadata: {{name: {alias}}}\nspec:\n"
            f"  address: {alias}\n  features:\n    panicRecovery: {{panicSeconds: 10}}\n"
            for alias, _ in setup.hosts]
    (specs / "hosts.yaml").write_text("---\n".join(docs))
    return specs

