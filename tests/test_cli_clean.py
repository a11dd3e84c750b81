"""`axis clean` end to end in-process: hosts stored with `apply --no-converge`, reached through a
fake connector whose transports run the real clean-up script locally against a temp tree per
host (AXIS_CLEAN_ROOT), or fail the way a real host does (unreachable, sudo wants a password)."""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from axis.drivers.features.cleanup_script import TEST_PERCENT_ENV, TEST_ROOT_ENV, render
from axis.drivers.transport import ClosedOnExit, RunResult, privileged
from axis.specs.features import DiskCleanupSettings
from tests.fake_transport import FakeConnector, FakeTransport, run_here

DAY = 86400

SPECS = """
apiVersion: axis/v1
kind: Host
metadata: {name: a, labels: {role: worker}}
spec:
  address: a.lan
  sudo: true
  features:
    diskCleanup: {retentionDays: 7, deepAtPercent: 95}
---
apiVersion: axis/v1
kind: Host
metadata: {name: b, labels: {role: worker}}
spec: {address: b.lan}
---
apiVersion: axis/v1
kind: Host
metadata: {name: c, labels: {role: gpu}}
spec: {address: c.lan, fanout: false}
---
apiVersion: axis/v1
kind: Host
metadata: {name: d, labels: {role: gpu}}
spec: {address: d.lan, user: ops, sudo: true}
"""


@dataclass
class LocalTransport(ClosedOnExit):
    """Runs what `axis clean` sends on this machine, the script confined to `root`."""

    name: str
    root: Path
    percent: int = 10
    login_is_root: bool = False
    sent: list[tuple[str, str | None]] = field(default_factory=list)  # (final command line, stdin)
    closed: bool = False

    async def run(self, command: str, *, input: str | None = None, timeout: float | None = None,
                  sudo: bool = False, check: bool = False, on_output=None) -> RunResult:
        line = privileged(command, login_is_root=self.login_is_root, sudo_allowed=True) if sudo else command
        self.sent.append((line, input))
        env = {"PATH": os.environ["PATH"], TEST_ROOT_ENV: str(self.root), TEST_PERCENT_ENV: str(self.percent)}
        return await run_here(["sh", "-c", command], input=input, env=env, timeout=timeout)

    async def put(self, path: str, data: bytes, *, mode: int = 0o644, sudo: bool = False) -> None:
        raise AssertionError("axis clean writes no file")

    async def close(self) -> None:
        self.closed = True


def put(root: Path, rel: str, days: float) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * 100)
    t = time.time() - days * DAY
    os.utime(path, (t, t))
    return path


def host_root(tmp_path: Path, name: str) -> Path:
    root = tmp_path / "hosts" / name
    for d in ("tmp", "var/tmp", "var/log", "root", "bin"):
        (root / d).mkdir(parents=True)
    return root


@pytest.fixture
def fleet(axis, specs, tmp_path):
    """Hosts a (fanout, retention 7), b (unreachable), c (fanout: false, defaults), d (sudo wants a
    password); returns the transports by name and the names `connect` was called with."""
    assert axis("apply", "--no-converge", "-f", str(specs({"hosts.yaml": SPECS}))).code == 0
    transports: dict[str, object] = {
        "a": LocalTransport("a", host_root(tmp_path, "a")),
        "c": LocalTransport("c", host_root(tmp_path, "c"), login_is_root=True),
        "d": FakeTransport("d", login_is_root=False).script(r"^sudo -n", stderr="sudo: a password is required\n",
                                                             exit_status=1),
    }
    axis.connector = connector = FakeConnector(transports, dead=frozenset({"b"}), refusal="connection refused")
    return transports, connector.connected


def rows(out: str) -> dict[str, str]:
    return {line.split()[0]: line for line in out.splitlines()[1:] if line.strip()}


def test_clean_all_skips_fanout_false_and_each_failing_host_fails_alone(axis, fleet):
    transports, connected = fleet
    root = transports["a"].root
    old, recent = put(root, "tmp/eight-days", 8), put(root, "tmp/five-days", 5)
    r = axis("clean", "all")
    assert r.code == 1
    assert sorted(connected) == ["a", "b", "d"]            # c has fanout: false
    table = rows(r.out)
    assert set(table) == {"a", "b", "d"}
    assert table["a"].split()[1] == "safe" and table["a"].rstrip().endswith("ok")
    assert "failed: unreachable: connection refused" in table["b"]
    assert "failed: sudo needs a password" in table["d"]
    # a's own settings (retention 7 days) were used, not the defaults (3)
    assert not old.exists() and recent.exists()
    assert transports["a"].closed


def test_clean_all_names_the_hosts_it_left_out_on_stderr_in_every_output(axis, fleet):
    note = "left out 1 host(s) with fanout: false: c (name one to include it: axis clean c ...)"
    assert axis("clean", "all").err.splitlines()[-1] == note
    done = axis("clean", "all", "-o", "json")
    assert done.err.splitlines()[-1] == note
    assert sorted(d["host"] for d in json.loads(done.out)) == ["a", "b", "d"]   # stdout: the hosts cleaned
    assert "left out" not in axis("clean", "c", "-o", "json").err


def test_the_script_sent_is_the_hosts_cron_script_run_as_root_over_stdin(axis, fleet):
    transports, _ = fleet
    assert axis("clean", "a").code == 0
    [(line, stdin)] = transports["a"].sent
    assert line == "sudo -n sh -c 'sh -s --'"                   # login user not root, sudo: true
    assert stdin == render(DiskCleanupSettings(retentionDays=7, deepAtPercent=95))
    assert axis("clean", "c").code == 0
    [(line, stdin)] = transports["c"].sent
    assert line == "sh -s --" and stdin == render(DiskCleanupSettings())  # root login; defaults


def test_named_fanout_false_host_is_cleaned(axis, fleet):
    transports, connected = fleet
    old = put(transports["c"].root, "var/tmp/old", 5)           # default retention: 3 days
    r = axis("clean", "c")
    assert r.code == 0, r.out + r.err
    assert connected == ["c"] and not old.exists()


def test_selector_limits_all(axis, fleet):
    _, connected = fleet
    r = axis("clean", "all", "-l", "role=gpu")
    assert connected == ["d"] and set(rows(r.out)) == {"d"} and r.code == 1


def test_dry_run_lists_steps_and_deletes_nothing(axis, fleet):
    transports, _ = fleet
    root = transports["a"].root
    files = [put(root, "tmp/old1", 9), put(root, "tmp/old2", 9), put(root, "var/log/syslog.1", 9),
             put(root, "root/.cache/huggingface/blob", 30)]
    r = axis("clean", "a", "--dry-run", "--deep", "-o", "json")
    assert r.code == 0, r.err
    assert all(p.exists() for p in files)
    [host] = json.loads(r.out)
    assert host["status"] == "ok" and host["dryRun"] and host["tiers"] == ["safe", "deep"]
    assert host["deepReason"] == "flag" and host["freedBytes"] == 0 and host["estimateBytes"] == 400
    steps = {s["name"]: s for s in host["steps"]}
    assert steps["/tmp"] == {"tier": "safe", "name": "/tmp", "result": "would-remove", "files": 2, "bytes": 200,
                             "emptyDirs": 0}
    assert steps["/root/.cache/huggingface"]["tier"] == "deep"
    assert transports["a"].sent[0][0].endswith("'sh -s -- --deep --dry-run'")
    table = axis("clean", "a", "--dry-run")
    assert "WOULD FREE" in table.out and "would-remove" in table.out and "/tmp" in table.out
    assert all(p.exists() for p in files)


def test_deep_tier_at_the_hosts_threshold(axis, fleet):
    transports, _ = fleet
    transports["c"].percent = 90                                  # c: defaults, deep at 85 %
    transports["a"].percent = 90                                  # a: deep at 95 %
    hf_c = put(transports["c"].root, "root/.cache/huggingface/blob", 9)
    hf_a = put(transports["a"].root, "root/.cache/huggingface/blob", 9)
    r = axis("clean", "c")
    assert "safe+deep (disk 90% >= 85%)" in r.out and not hf_c.exists()
    r = axis("clean", "a", "-o", "yaml")
    assert "deepReason: null" in r.out and hf_a.exists()


def test_a_failed_step_makes_the_host_partial(axis, fleet):
    transports, _ = fleet
    stub = transports["a"].root / "bin" / "apt-get"
    stub.write_text("#!/bin/sh\ncase \"$*\" in -s*) exit 0 ;; esac\necho 'E: Could not get lock' >&2\nexit 100\n")
    stub.chmod(0o755)
    r = axis("clean", "a", "-o", "json")
    assert r.code == 1
    [host] = json.loads(r.out)
    assert host["status"] == "partial"
    assert host["reason"] == ("apt-get -y autoremove --purge exited 100: E: Could not get lock; "
                              "apt-get clean exited 100: E: Could not get lock")
    assert "removed" in {s["result"] for s in host["steps"]}  # the other steps still ran


def test_not_applicable_and_cut_off_output(axis, fleet, monkeypatch):
    transports, _ = fleet
    transports["d"] = FakeTransport("d").script("sh -s", stdout="@@axis:skip not applicable on Darwin\n")
    r = axis("clean", "d", "-o", "json")
    assert r.code == 0 and json.loads(r.out)[0]["status"] == "n/a"
    transports["d"] = FakeTransport("d").script("sh -s", stdout="@@axis:start date=x\n", stderr="Killed\n",
                                                exit_status=137)
    r = axis("clean", "d")
    assert r.code == 1 and "failed: exit 137: Killed" in r.out


def test_a_host_still_running_at_the_deadline_fails_as_timed_out(axis, fleet):
    transports, _ = fleet

    class Hanging(FakeTransport):
        async def run(self, command, **kwargs):
            await asyncio.sleep(120)

    transports["d"] = Hanging("d")
    started = time.monotonic()
    r = axis("clean", "d", "--timeout", "0.3")
    assert r.code == 1 and "failed: timed out" in r.out
    # the deadline cut the 120 s hang short: half of it is room enough for a loaded CI machine
    assert time.monotonic() - started < 60


def test_unknown_host_is_an_error(axis, fleet):
    r = axis("clean", "nope")
    assert r.code == 1 and "no host named 'nope'" in r.err
