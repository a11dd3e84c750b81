"""Unit tests for bugs that, in a mutation run, only the real-host tests caught.

Each test names the one-line bug it exists to catch. No real host is involved: whole passes run
against `LocalHost`, a fake whose facts script (with the features' probes) really runs on this
machine, read-only, with the paths panicRecovery reads mapped under a temp dir; `sysctl -p` is
emulated and every other command must match a scripted answer, so nothing else runs here.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import asyncssh
import pytest

from axis.app.token import token_matches
from axis.drivers import ssh as ssh_driver
from axis.drivers.fan_out import fan_out
from axis.drivers.features import panic_recovery
from axis.drivers.host_key_policy import HostKeyPolicy
from axis.drivers.hostkeys import PolicyClient
from axis.drivers.transport import ErrorKind, RunResult, Target, TransportError, command_failed
from axis.reconcile.controller import Controller
from axis.specs import Host
from axis.specs.features import PanicRecoverySettings
from axis.state import Database
from axis.state.facts import latest
from tests.dbcheck import rows
from tests.conftest import Axis
from tests.fake_transport import FakeConnector, FakeTransport, run_here

REFUSAL = 'sysctl: permission denied on key "kernel.panic"\n'


#: What the fake kernel lets `sysctl -p` read and set, mapped under the host's root like the file.
SYSCTL_FILES = {"kernel.panic": "/proc/sys/kernel/panic", "vm.panic_on_oom": "/proc/sys/vm/panic_on_oom"}


@dataclass
class LocalHost(FakeTransport):
    """A fake host whose facts come from running the real facts script here (see the module
    docstring). panicRecovery's file and the two kernel values it reads live under `root`;
    `sysctl -p FILE` loads FILE into them, or is refused as a namespaced kernel refuses it."""

    root: Path = field(default_factory=Path)
    kernel_refuses: bool = False

    def __post_init__(self) -> None:
        for path in SYSCTL_FILES.values():
            self._local(path).parent.mkdir(parents=True, exist_ok=True)
            self._local(path).write_text("0\n")

    def _local(self, path: str) -> Path:
        return self.root / path.lstrip("/")

    async def run(self, command: str, *, input: str | None = None, timeout: float | None = None,
                  sudo: bool = False, check: bool = False, on_output=None) -> RunResult:  # type: ignore[no-untyped-def]
        if command == "sh -s" and input is not None and input.startswith("# axis facts script"):
            return await self._facts(input)
        if command == f"sysctl -p {panic_recovery.PATH}":
            self.calls.append(command)
            result = RunResult(1, "", REFUSAL) if self.kernel_refuses else self._load_sysctl(panic_recovery.PATH)
            if check and not result.ok:
                raise command_failed(self.name, command, result)
            return result
        return await super().run(command, input=input, timeout=timeout, sudo=sudo, check=check, on_output=on_output)

    async def _facts(self, script: str) -> RunResult:
        self.calls.append("facts")
        for path in (panic_recovery.PATH, *SYSCTL_FILES.values()):
            script = script.replace(path, str(self._local(path)))
        return await run_here(["sh", "-s"], input=script)

    def _load_sysctl(self, path: str) -> RunResult:
        loaded = []
        for line in self._local(path).read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep and key.strip() in SYSCTL_FILES:
                self._local(SYSCTL_FILES[key.strip()]).write_text(value.strip() + "\n")
                loaded.append(f"{key.strip()} = {value.strip()}\n")
        return RunResult(0, "".join(loaded), "")

    async def put(self, path: str, data: bytes, *, mode: int = 0o644, sudo: bool = False,
                  expect: str | None = None) -> None:
        await super().put(path, data, mode=mode, sudo=sudo, expect=expect)
        self._local(path).parent.mkdir(parents=True, exist_ok=True)
        self._local(path).write_bytes(data)

    def ran(self, pattern: str) -> int:
        return sum(1 for c in self.calls if pattern in c)


def local_host(tmp_path: Path, name: str, *, kernel_refuses: bool = False) -> LocalHost:
    return LocalHost(name, root=tmp_path / "hosts" / name, kernel_refuses=kernel_refuses)


def host_yaml(*names: str, features: str = "{panicRecovery: {}}") -> str:
    return "".join(f"""---
apiVersion: axis/v1
kind: Host
metadata: {{name: {name}}}
spec:
  address: {name}.lan
  features: {features}
""" for name in names)


def connect_to(axis: Axis, hosts: dict[str, FakeTransport], dead: frozenset[str] = frozenset()) -> list[str]:
    """The suite's fake connector, given to `axis`'s commands: it hands out the fakes; a dead
    host's connection is refused. Returns the names connected to, in order."""
    connector = FakeConnector(hosts, dead)
    axis.connector = connector
    return connector.connected


def _event_reasons(state_db: Path | str, host: str) -> list[str]:
    return [reason for (reason,) in rows(state_db, "SELECT reason FROM events WHERE kind = 'Host' AND name = :host "
                                                   "ORDER BY id", host=host)]


def _states(state_db: Path | str) -> dict[str, dict[str, str]]:
    db = Database(state_db)
    try:
        with db.snapshot() as snap:
            out: dict[str, dict[str, str]] = {}
            for row in snap.feature_status():
                out.setdefault(row.host, {})[row.feature] = row.state
            return out
    finally:
        db.close()


# --- host keys: asyncssh must always be handed a known-hosts source --------------------------

def _known_hosts_line(host: str, port: int, key: asyncssh.SSHKey) -> str:
    return f"[{host}]:{port} {key.export_public_key('openssh').decode().strip()}\n"


@pytest.mark.parametrize("policy", list(HostKeyPolicy))
@pytest.mark.parametrize("source", ["--known-hosts", "ssh_config", "UserKnownHostsFile none", "default"])
def test_connect_hands_asyncssh_the_trusted_keys_under_every_policy(tmp_path, monkeypatch, policy, source):
    """Mutation caught: `known_hosts=None` in `asyncssh.connect(...)` (asyncssh then checks no
    host key at all), or the kwarg dropped, or the policy or file choice lost on the way."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    key = asyncssh.generate_private_key("ssh-ed25519")
    files = {"--known-hosts": tmp_path / "explicit_known_hosts", "ssh_config": tmp_path / "config_known_hosts",
             "UserKnownHostsFile none": tmp_path / "home" / ".ssh" / "known_hosts",
             "default": tmp_path / "home" / ".ssh" / "known_hosts"}
    trusted_file = files[source]
    trusted_file.parent.mkdir(parents=True, exist_ok=True)
    trusted_file.write_text(_known_hosts_line("10.77.9.10", 2222, key))
    config = tmp_path / "ssh_config"
    config.write_text({"ssh_config": f"UserKnownHostsFile {files['ssh_config']}\n",
                       "UserKnownHostsFile none": "UserKnownHostsFile none\n"}.get(source, ""))
    captured: dict[str, object] = {}

    async def fake_connect(host: str, port: object = (), **kwargs: object) -> None:
        captured.update(kwargs, host=host, port=port)
        raise ConnectionRefusedError()

    monkeypatch.setattr(asyncssh, "connect", fake_connect)
    target = Target(name="h1", address="10.77.9.10", port=2222)
    with pytest.raises(TransportError) as refused:
        asyncio.run(ssh_driver.connect(target, policy=policy, ssh_config=config,
                                       known_hosts=files["--known-hosts"] if source == "--known-hosts" else None))
    assert refused.value.kind is ErrorKind.UNREACHABLE
    known = captured.get("known_hosts")
    assert isinstance(known, asyncssh.SSHKnownHosts), f"asyncssh got known_hosts={known!r}: host keys unchecked"
    host_keys = known.match("10.77.9.10", "10.77.9.10", 2222)[0]
    assert {k.get_fingerprint() for k in host_keys} == {key.get_fingerprint()}
    assert known.match("10.77.9.11", "10.77.9.11", 2222)[0] == []  # trusts nothing else
    client = captured["client_factory"]()  # type: ignore[operator]
    assert isinstance(client, PolicyClient)
    stranger = asyncssh.generate_private_key("ssh-ed25519")
    accepted = client.validate_host_public_key("10.77.9.12", "10.77.9.12", 22, stranger)
    assert accepted is (policy is HostKeyPolicy.ACCEPT_NEW)
    if accepted:  # accept-new records the new key in the file the keys were read from
        assert trusted_file.read_text().splitlines()[-1].startswith("10.77.9.12 ssh-ed25519 ")


async def _loopback_sshd(host_key: asyncssh.SSHKey) -> asyncssh.SSHAcceptor:
    class NoAuth(asyncssh.SSHServer):
        def begin_auth(self, username: str) -> bool:
            return False  # anyone in: only the host key check is under test

    return await asyncssh.create_server(NoAuth, "127.0.0.1", 0, server_host_keys=[host_key])


def test_an_unknown_host_key_is_refused_by_a_real_handshake_and_a_known_one_accepted(tmp_path):
    """The same mutation end to end: an SSH server on loopback with a key known_hosts lacks
    must be refused under the strict policy (with `known_hosts=None` asyncssh connects)."""
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    known = tmp_path / "known_hosts"
    known.write_text("")
    config = tmp_path / "ssh_config"
    config.write_text("")

    async def attempt() -> str:
        server = await _loopback_sshd(host_key)
        port = server.sockets[0].getsockname()[1]
        target = Target(name="h1", address="127.0.0.1", port=port, user="ops")
        try:
            try:
                conn = await ssh_driver.connect(target, known_hosts=known, ssh_config=config, connect_timeout=20)
            except TransportError as exc:
                outcome = exc.kind.value
            else:
                await conn.close()
                outcome = "connected"
            known.write_text(_known_hosts_line("127.0.0.1", port, host_key))
            conn = await ssh_driver.connect(target, known_hosts=known, ssh_config=config, connect_timeout=20)
            await conn.close()
            return outcome
        finally:
            server.close()
            await server.wait_closed()

    assert asyncio.run(attempt()) == ErrorKind.HOST_KEY_UNKNOWN.value


# --- refusals are remembered from one apply to the next ----------------------------------------

def test_a_live_step_the_host_refused_is_not_retried_by_the_next_apply(axis, specs, tmp_path, state_db):
    """Mutation caught: the stored refusals not read back (`refused={}` in plan_work) or not
    stored (`refused` dropped from the feature row): `sysctl -p` would run again every pass."""
    fake = local_host(tmp_path, "a", kernel_refuses=True)
    connect_to(axis, {"a": fake})
    spec = specs({"h.yaml": host_yaml("a")})

    first = axis("apply", "-f", str(spec))
    assert fake.ran("sysctl -p") == 1, fake.calls
    assert list(fake.files) == [panic_recovery.PATH]
    written = (fake.root / panic_recovery.PATH.lstrip("/")).read_text()
    assert written == panic_recovery.render(PanicRecoverySettings())
    assert _states(state_db) == {"a": {"panicRecovery": "refused"}}, first.out + first.err

    second = axis("apply", "-f", str(spec))
    assert fake.ran("sysctl -p") == 1, fake.calls  # remembered: not run again
    assert list(fake.files) == [panic_recovery.PATH] and fake.ran("facts") == 3  # 2 + 1: nothing to verify
    assert _states(state_db) == {"a": {"panicRecovery": "refused"}}, second.out + second.err
    assert first.code == second.code
    # said once: a StepRefused event the first time, none for the remembered refusal
    # (mutation caught: the "not refused before" test in record.py dropped)
    assert _event_reasons(state_db, "a").count("StepRefused") == 1


def test_a_pass_that_repairs_drift_keeps_skipping_a_step_refused_in_an_earlier_pass(
        axis, specs, tmp_path, state_db):
    """The file is changed by hand after the refusal: the next apply rewrites it, and its
    verification still skips the live step the host refused in an earlier pass. Mutation
    caught: the verification plan given only this pass's refusals (`remembered` in converge.py
    without the stored ones): the live step would count as still differing, the feature failed."""
    fake = local_host(tmp_path, "a", kernel_refuses=True)
    connect_to(axis, {"a": fake})
    spec = specs({"h.yaml": host_yaml("a")})
    axis("apply", "-f", str(spec))
    local_file = fake.root / panic_recovery.PATH.lstrip("/")
    local_file.write_text("kernel.panic = 99\n")  # drift made by hand

    again = axis("apply", "-f", str(spec))

    assert local_file.read_text() == panic_recovery.render(PanicRecoverySettings())  # repaired
    assert fake.ran("sysctl -p") == 1, fake.calls  # only the first apply's
    assert _states(state_db) == {"a": {"panicRecovery": "refused"}}, again.out + again.err


# --- a fan-out goes on past failed hosts -------------------------------------------------------

@pytest.mark.parametrize("jobs", ["1", "16"])
def test_an_apply_over_dead_and_live_hosts_converges_every_live_one(axis, specs, tmp_path, state_db, jobs):
    """Mutation caught: a fan-out that stops at the first failed host (one host's error
    propagated out of the pass, or the loop left at the first failure). The dead hosts come
    first in name order, so one at a time they are also the first to fail."""
    live = {name: local_host(tmp_path, name) for name in ("c-live", "d-live")}
    connected = connect_to(axis, live, dead=frozenset({"a-dead", "b-dead"}))
    spec = specs({"h.yaml": host_yaml("a-dead", "b-dead", "c-live", "d-live")})

    result = axis("apply", "-j", jobs, "-f", str(spec))

    assert result.code == 1, result.out + result.err
    assert sorted(connected) == ["a-dead", "b-dead", "c-live", "d-live"]
    for fake in live.values():
        assert list(fake.files) == [panic_recovery.PATH] and fake.ran("sysctl -p") == 1 and fake.closed
    assert _states(state_db) == {"c-live": {"panicRecovery": "applied"}, "d-live": {"panicRecovery": "applied"}}
    db = Database(state_db)
    try:
        with db.read() as session:
            seen = {name: (row.status, row.reason) for name, row in latest(session).items()}
    finally:
        db.close()
    assert seen["a-dead"][0] == seen["b-dead"][0] == "unreachable"
    assert "connection refused" in seen["a-dead"][1]
    assert seen["c-live"][0] == seen["d-live"][0] == "complete"


def test_the_fan_out_runs_jobs_hosts_at_once_never_more(tmp_path):
    """Mutation caught: the fan-out serialized (`jobs` ignored: a slow host would hold up every
    other) or unbounded. Ten items that each wait a moment, at most `jobs` at once."""
    async def run(jobs: int) -> tuple[int, list[int]]:
        running, peak = 0, 0

        async def work(item: int) -> int:
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.02)
            running -= 1
            return item * 2

        results = await fan_out(range(10), work, jobs=jobs)
        return peak, results

    assert asyncio.run(run(4)) == (4, [i * 2 for i in range(10)])  # results in input order
    assert asyncio.run(run(16)) == (10, [i * 2 for i in range(10)])
    assert asyncio.run(run(1))[0] == 1


# --- the controller comes back to every host at resync -----------------------------------------

def test_the_controller_passes_over_a_converged_host_again_every_resync(tmp_path, state_db, specs):
    """Mutation caught: a host never rescheduled after a successful pass (`due` not set to
    now + resync): drift made by hand would never be repaired."""
    resync = 0.3
    watch = specs({"h.yaml": host_yaml("a", features="{}")})
    fake = local_host(tmp_path, "a")
    passes: list[float] = []

    class Connector:
        async def connect(self, host: Host) -> FakeTransport:
            passes.append(time.monotonic())
            return fake

    async def run() -> None:
        controller = Controller(Database(state_db), Connector(), watch, resync=resync)
        controller.apply_specs()
        stop = asyncio.Event()
        task = asyncio.create_task(controller.run(stop))
        deadline = time.monotonic() + 60  # generous: under heavy load; the test ends at 4 passes
        while len(passes) < 4 and time.monotonic() < deadline and not task.done():
            await asyncio.sleep(0.05)
        stop.set()
        await task

    asyncio.run(run())
    assert len(passes) >= 4, f"{len(passes)} pass(es) over a converged host in 60 s with resync {resync}s"
    gaps = [b - a for a, b in pairwise(passes)]
    assert min(gaps) >= resync * 0.9, gaps  # due again after resync, not at once
    assert fake.ran("facts") == len(passes) and fake.ran("sysctl") == 0


def test_stored_facts_from_a_local_host_parse_completely(tmp_path, axis, specs, state_db):
    """The fake the tests above rest on: its facts are complete, so their passes are real ones."""
    connect_to(axis, {"a": local_host(tmp_path, "a")})
    assert axis("apply", "-f", str(specs({"h.yaml": host_yaml("a", features="{}")}))).code == 0
    out = axis("get", "hosts", "-o", "json").out
    item = json.loads(out)["items"][0]
    assert item["metadata"]["name"] == "a"
    db = Database(state_db)
    try:
        with db.read() as session:
            obs = latest(session)["a"]
    finally:
        db.close()
    assert obs.status == "complete", obs.reason
    assert obs.data is not None and obs.data["os"]["family"] == "linux"


# --- the API token is compared whole ------------------------------------------------------------

@pytest.mark.parametrize("header", ["Bearer ", "Bearer", "bearer  ", "Bearer s3cr", "Bearer s3cret-tok",
                                    "Bearer 3cret-token", "Bearer s3cret-tokenX", "Bearer s3cret-token s3cret-token",
                                    "Basic s3cret-token", "s3cret-token", "", None])
def test_only_the_whole_token_matches(header):
    """Mutation caught: the constant-time comparison turned into a prefix check (`Bearer ` with
    an empty token, or the first characters of the token, would open the API)."""
    assert token_matches(header, "s3cret-token") is False


@pytest.mark.parametrize("header", ["Bearer s3cret-token", "bearer s3cret-token", "BEARER s3cret-token",
                                    "Bearer s3cret-token "])
def test_the_whole_token_matches_whatever_the_schemes_case(header):
    assert token_matches(header, "s3cret-token") is True
