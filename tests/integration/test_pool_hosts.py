"""The controller's kept connections on a real host (issue 21, "Warm path"): its passes over a host
run on one SSH connection, seen from the host's side (the established TCP connections to port 22
and the client port they come from); a connection killed on the host is opened again with the
reason in the log; while sshd is down the reconnects fail with the host's reason and the
connection comes back with sshd; stopping the controller closes it."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

from tests.integration.controlkit import AXIS, controller_workdir, wait_for

#: Kills the per-connection sshd processes on the host (not the listener): the connection breaks.
KILL_SESSIONS = "pkill -KILL -f '^sshd: [^ ]+@'"


def connections(host: Any) -> set[str]:
    """The peers (address:port) of the TCP connections established to the host's sshd."""
    out = host.exec("ss -Htn state established '( sport = :22 )'").stdout
    return {line.split()[-1] for line in out.splitlines() if line.strip()}


def passes(log: Path, name: str) -> int:
    return log.read_text().count(f"{name}: pass over after") if log.exists() else 0


def test_passes_share_one_connection_that_is_reopened_when_lost_and_closed_on_stop(fleet, tmp_path):
    host = fleet.hosts[0]
    with controller_workdir(fleet, tmp_path) as work:
        (work.specs / "h.yaml").write_text(f"apiVersion: axis/v1\nkind: Host\nmetadata: {{name: {host.name}}}\n"
                                           f"spec: {{address: {host.name}, features: {{panicRecovery: {{}}}}}}\n")
        proc = work.start(resync="1s", axis=[*AXIS, "--debug"])

        def more_passes(count: int) -> None:
            seen = passes(work.log, host.name)
            wait_for(lambda: passes(work.log, host.name) >= seen + count, 60, f"{count} more passes over {host.name}")

        more_passes(2)
        first = connections(host)
        assert len(first) == 1, first
        more_passes(3)
        assert connections(host) == first  # the same client port: no new connection, no handshake

        host.exec(KILL_SESSIONS)
        wait_for(lambda: f"{host.name}: its kept SSH connection was closed (connection lost" in work.log.read_text()
                 or f"{host.name}: dropping its kept SSH connection: " in work.log.read_text(), 60,
                 "the lost connection logged with its reason")
        more_passes(2)
        second = connections(host)
        assert len(second) == 1 and second != first, (first, second)

        host.stop_sshd()
        host.exec(KILL_SESSIONS)
        wait_for(lambda: "connection refused by" in work.log.read_text(), 60, "a refused reconnect logged")
        host.start_sshd()
        wait_for(lambda: f"{host.name}: connected again after " in work.log.read_text(), 60, "the reconnect")
        more_passes(2)
        assert len(connections(host)) == 1

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0, work.log.read_text()[-3000:]
        wait_for(lambda: not connections(host), 10, "the connection closed when the controller stopped")
