"""`axis status`, `on`, `diff` and `exec` on real hosts, first with no controller running, then
with one on the same state DB, then after it stopped: the same output and exit codes each time;
with the controller, every host's work went through its local socket (its counters say so),
and an interrupted `exec` still stops its job on the host through it. A cancelled command
closes its channel on a connection that stays open (the relay's cancel)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from axis.app.controller_client import ControllerClient
from axis.app.controller_wire import socket_path
from axis.drivers.connector import SshOptions
from axis.specs import Host
from axis.state import Location
from tests.integration.controlkit import AXIS, controller_workdir, panic_conf, wait_for
from tests.integration.fleetspecs import host_specs

pytestmark = pytest.mark.hosts

CLAIM = """
apiVersion: axis/v1
kind: Claim
metadata: {name: job}
spec: {task: print a greeting, requires: {memory: 64Mi, tools: []}, ttl: 30m}
"""


def _axis(fleet: Any, state: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*AXIS, "--state", str(state), "--ssh-config", str(fleet.ssh_config), *args],
                          capture_output=True, text=True, timeout=timeout)


def _served(fleet: Any, state: Path) -> dict[str, int]:
    """The controller's counters of what it served (status documents, relayed host connections)."""
    client = ControllerClient.of(Location(path=state), SshOptions(ssh_config=fleet.ssh_config))
    return dict(client.ask("ping")["served"])


def _status(fleet: Any, state: Path) -> tuple[int, Any]:
    """`axis status -o json`, less what moves between two observations (load, free memory, times)."""
    done = _axis(fleet, state, "status", "-o", "json")
    if done.returncode:
        return done.returncode, done.stderr
    doc = json.loads(done.stdout)
    hosts = [{"name": h["name"], "status": h["status"], "reason": h["reason"], "facts": sorted(h["facts"]),
              **{k: h["summary"][k] for k in ("os", "cores", "gpu", "sudo", "memoryEnforcement")}}
             for h in doc["hosts"]]
    return 0, {"hosts": hosts, "totals": {k: doc["totals"][k] for k in ("hosts", "reachable", "cores", "gpus")}}


def _answers(fleet: Any, state: Path, edited: Path, dead: str) -> dict[str, Any]:
    """What each command printed and its exit code (timings taken out)."""
    answers: dict[str, Any] = {"status": _status(fleet, state)}
    for name, args in {
        "on-json": ["on", "all", "-o", "json", "--", "echo out; echo err >&2; exit 3"],
        "on-table": ["on", "all", "--", "printf 'a\\nb\\n'; echo err >&2"],
        "on-dead": ["on", dead, "-o", "json", "--", "true"],
        "diff": ["diff", "-f", str(edited)],
        "diff-json": ["diff", "-f", str(edited), "-o", "json"],
        "exec": ["exec", "job", "--", "echo out; echo err >&2; exit 7"],
    }.items():
        done = _axis(fleet, state, *args)
        out, err = done.stdout, re.sub(r"in \d+\.\ds", "in Ns", done.stderr)
        if name == "on-table":
            out, err = "\n".join(sorted(out.splitlines())), "\n".join(sorted(err.splitlines()))
        if name == "diff-json":
            plan = json.loads(out)
            out = {k: v for k, v in plan.items() if k not in ("generatedAt", "createdAt", "observedAt")}
        answers[name] = (done.returncode, out, err)
    return answers


def test_commands_answer_the_same_through_a_running_controller(fleet: Any, tmp_path: Path) -> None:
    with controller_workdir(fleet, tmp_path) as work:
        (work.specs / "hosts.yaml").write_text(host_specs(fleet, features="{panicRecovery: {panicSeconds: 5}}"))
        (work.specs / "claim.yaml").write_text(CLAIM)
        edited = tmp_path / "edited"
        edited.mkdir()
        (edited / "hosts.yaml").write_text(host_specs(fleet, features="{panicRecovery: {panicSeconds: 6}}"))
        applied = _axis(fleet, work.state, "apply", "-f", str(work.specs))
        assert applied.returncode == 0, applied.stdout + applied.stderr
        lease = json.loads(_axis(fleet, work.state, "get", "leases", "job", "-o", "json").stdout)
        dead = next(h for h in reversed(fleet.hosts) if h.name != lease["host"])  # exec's host stays up
        dead.stop_sshd()

        direct = _answers(fleet, work.state, edited, dead.name)
        assert direct["exec"][:2] == (7, "out\n") and direct["diff"][0] == 1 and direct["on-json"][0] == 255, direct
        assert direct["on-dead"][0] == 255 and "kernel.panic" in direct["diff"][1]

        proc = work.start(resync="60s")
        wait_for(lambda: "local socket" in work.log.read_text(), 30, "the controller's local socket")
        wait_for(lambda: all("kernel.panic = 5" in panic_conf(h) for h in fleet.hosts if h is not dead), 30,
                 "convergence")
        before = _served(fleet, work.state)
        warm = _answers(fleet, work.state, edited, dead.name)
        after = _served(fleet, work.state)
        assert warm == direct, work.log.read_text()
        hosts = len(fleet.hosts)
        # status 1; on: all hosts twice and the dead one; diff: the hosts twice; exec: its one host
        assert after.get("status", 0) - before.get("status", 0) == 1
        assert after.get("connect", 0) - before.get("connect", 0) == 2 * hosts + 1 + 2 * hosts + 1

        interrupted = subprocess.Popen([*AXIS, "--state", str(work.state), "--ssh-config", str(fleet.ssh_config),
                                        "exec", "job", "--", "echo started; sleep 600"],
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                       # Ctrl-C's default: pytest started in the background by a
                                       # script (`.ci/run &`) ignores SIGINT, and so would its children
                                       preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        assert interrupted.stdout is not None and interrupted.stdout.readline() == "started\n"
        bound = next(h for h in fleet.hosts if h.exec("pgrep -f '[s]leep 600'", check=False).returncode == 0)
        interrupted.send_signal(signal.SIGINT)
        try:
            code = interrupted.wait(timeout=60)
        except subprocess.TimeoutExpired:  # say what it was doing, and leave no `sleep 600` to the next tests
            interrupted.kill()
            bound.exec("pkill -f '[s]leep 600'", check=False)
            pytest.fail(f"exec still running 60 s after SIGINT; its stderr: {interrupted.communicate()[1][-2000:]}\n"
                        f"controller log: {work.log.read_text()[-3000:]}")
        assert code == 130
        assert bound.exec("pgrep -f '[s]leep 600'", check=False).returncode == 1  # the job was stopped
        assert _served(fleet, work.state)["connect"] > after["connect"]

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, work.log.read_text()
        assert not socket_path(Location(path=work.state)).exists()
        fallback = _axis(fleet, work.state, "--debug", "on", fleet.hosts[0].name, "--", "echo back")
        assert (fallback.returncode, fallback.stdout) == (0, f"[{fleet.hosts[0].name}] back\n")
        assert "axis: direct connections: no controller socket" in fallback.stderr


def test_a_cancelled_command_closes_its_channel_and_leaves_the_connection(fleet: Any) -> None:
    """A command whose caller gave up (a relayed one whose command line went away) has its SSH
    channel closed at once, as the end of the command line's own connection would close it, also
    where the connection is kept for more work: a command still writing then ends (SIGPIPE)."""
    host = fleet.hosts[0]
    spec = Host.model_validate({"apiVersion": "axis/v1", "kind": "Host", "metadata": {"name": host.name},
                                "spec": {"address": host.name}})
    running = lambda: host.exec("pgrep -f '[a]xis-channel-test'", check=False).returncode == 0  # noqa: E731

    async def scenario() -> None:
        async with await SshOptions(ssh_config=fleet.ssh_config).connect(spec) as transport:
            writer = asyncio.create_task(transport.run("while :; do echo axis-channel-test; sleep 0.1; done"))
            for _ in range(100):
                if await asyncio.to_thread(running):
                    break
                await asyncio.sleep(0.1)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            for _ in range(100):
                if not await asyncio.to_thread(running):
                    break
                await asyncio.sleep(0.1)
            assert not running(), "the command's channel is still open"
            assert (await transport.run("echo still")).stdout == "still\n"  # the connection is kept

    asyncio.run(scenario())
