"""Failover on real test hosts: three `axis controller` processes share six sshd hosts through one
PostgreSQL state DB (the session's throw-away server); one is killed with SIGKILL. Its hosts are
reconciled by the others within 30 s (twice the default 15 s lease), and at no moment are two
controllers in a pass over the same host (each pass's begin and end, from each controller's own
`--debug` JSON log, on this machine's one clock)."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.ci import harness_unavailable
from tests.integration.controlkit import AXIS, panic_conf, wait_for
from tests.integration.fleetspecs import host_specs, say
from tests.integration.hostreset import hosts_reset
from tests.passlog import overlaps, stop_all
from axis.drivers.features.panic_recovery import PATH as PANIC_CONF
from axis.state import Database
from axis.state.ownership import holders
from tests.sshhosts import Fleet, HarnessUnavailable

#: The default lease (`axis controller --lease`): a killed controller's hosts move within twice it.
LEASE = 15.0


@pytest.fixture(scope="module")
def six(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """Six hosts of their own (the session's fleet has three), on a bridge no other fleet uses."""
    try:
        fleet = Fleet.start(n=6, workdir=tmp_path_factory.mktemp("six"), prefix="axis-m", net=7)
    except HarnessUnavailable as exc:
        harness_unavailable(exc.reason)
    yield fleet
    fleet.stop()


def _start(fleet: Fleet, state: str, specs: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([*AXIS, "--debug", "--state", state, "--ssh-config", str(fleet.ssh_config),
                                 "controller", "--watch", str(specs), "--resync", "2s", "--log-format", "json"],
                                stdout=out, stderr=subprocess.STDOUT)


def _passes(log: Path) -> list[tuple[str, float, float]]:
    """(host, began, ended) of every pass the controller logging to `log` made."""
    found = []
    for line in log.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and "pass_began" in record:
            found.append((record["host"], float(record["pass_began"]), float(record["pass_ended"])))
    return found


def _holders(state: str) -> dict[str, str]:
    db = Database(state)
    try:
        with db.read() as session:
            return {name: row.holder for name, row in holders(session, time.time()).items()}
    finally:
        db.close()


def test_a_killed_controllers_hosts_are_reconciled_by_the_others_within_twice_the_lease(
        six: Fleet, pg_url: str, tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "hosts.yaml").write_text(host_specs(six, features="{panicRecovery: {panicSeconds: 7}}"))
    logs = [tmp_path / f"controller{i}.log" for i in range(3)]
    procs: list[subprocess.Popen[bytes]] = []
    with hosts_reset(six, f"rm -f {PANIC_CONF}"):
        try:
            procs = [_start(six, pg_url, specs, log) for log in logs]
            wait_for(lambda: all("kernel.panic = 7" in panic_conf(h) for h in six.hosts), 90, "every host converged")
            wait_for(lambda: sorted(_count(_holders(pg_url)).values()) == [2, 2, 2], 3 * LEASE,
                     "two hosts per controller")
            owners = _holders(pg_url)
            victim_pid = procs[2].pid
            victim = next(name for name in set(owners.values()) if f"-{victim_pid}-" in name)
            victim_hosts = {host for host, holder in owners.items() if holder == victim}
            procs[2].send_signal(signal.SIGKILL)
            procs[2].wait()
            killed = time.time()
            for host in six.hosts:  # drift on every host: only a pass by a live controller repairs it
                host.exec(f"rm -f {PANIC_CONF}")

            def repaired() -> bool:
                return all("kernel.panic = 7" in panic_conf(h) for h in six.hosts)
            wait_for(repaired, 2 * LEASE, "the killed controller's hosts repaired by the others")
            took = time.time() - killed
            after = _holders(pg_url)
            assert {after[h] for h in victim_hosts} <= set(after.values()) - {victim}
            assert sorted(_count(after).values()) == [3, 3]
            say(f"failover: controller {victim} SIGKILLed holding {sorted(victim_hosts)}; drift on them repaired "
                f"{took:.1f}s later (lease {LEASE:g}s)")
        finally:
            stop_all(procs, 30)
    passes = [_passes(log) for log in logs]
    assert all(passes), f"every controller logged its passes: {[len(p) for p in passes]}"
    assert {h for h, *_ in passes[0] + passes[1]} >= victim_hosts  # the survivors passed the victim's hosts
    assert overlaps((host, index, began, ended) for index, found in enumerate(passes)
                    for host, began, ended in found) == []


def _count(owners: dict[str, Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for holder in owners.values():
        counts[holder] = counts.get(holder, 0) + 1
    return counts
