"""The controller's local socket: who it serves (the API's token, the same SSH options), what it
refuses (oversized, garbled, cut-off lines), one controller per state DB (a second one does not
steal it, a dead one's file is replaced, the file goes when the loop stops), and transports
relayed through it that answer as the transport in the controller does."""

from __future__ import annotations

import asyncio
import json
import socket
import stat
from pathlib import Path

import pytest

from axis.app import controller_socket
from axis.app.context import AppContext
from axis.app.controller_client import ControllerClient, NoController
from axis.app.controller_relay import RelayConnector
from axis.app.controller_wire import encode, socket_path
from axis.app.token import default_token_path, ensure_token
from axis.cli.controller_path import host_connector, warm_status
from axis.drivers.connector import SshOptions
from axis.drivers.transport import ErrorKind, OutputCallback, RunResult, TransportError
from axis.specs import Host
from tests.fake_transport import FakeConnector, FakeTransport
from tests.socketkit import socket_served


def _host(name: str, sudo: bool = False) -> Host:
    return Host.model_validate({"apiVersion": "axis/v1", "kind": "Host", "metadata": {"name": name},
                                "spec": {"address": "192.0.2.1", "sudo": sudo}})


def _exchange(app: AppContext, *lines: bytes) -> dict[str, object]:
    """Send raw lines (then end the stream) and read the one answer."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(str(socket_path(app.state)))
        for line in lines:
            sock.sendall(line)
        sock.shutdown(socket.SHUT_WR)
        with sock.makefile("rb") as answers:
            answer = answers.readline()
            assert answers.readline() == b""  # and the connection is closed
    return json.loads(answer)


def _hello(app: AppContext, **changes: object) -> bytes:
    message = ControllerClient.of(app.state, app.connector).hello("ping")
    return encode({**message, **changes})


def test_the_token_and_the_same_ssh_options_are_served(app: AppContext) -> None:
    with socket_served(app, FakeConnector({})) as server:
        assert server is not None
        path = socket_path(app.state)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert path.parent == default_token_path(app.state).parent
        answer = ControllerClient.of(app.state, app.connector).ask("ping")
        assert answer["ok"] is True and answer["served"] == {}
    assert not path.exists()  # removed when the loop stops


def test_a_wrong_or_missing_token_is_refused(app: AppContext) -> None:
    with socket_served(app, FakeConnector({})):
        assert _exchange(app, _hello(app, token="not-the-token")) == {"refused": "wrong token"}
        assert _exchange(app, _hello(app, token=None)) == {"refused": "wrong token"}
        default_token_path(app.state).write_text("another-token\n")
        with pytest.raises(NoController, match="refused: wrong token"):
            ControllerClient.of(app.state, app.connector).ask("ping")


def test_other_ssh_options_are_refused(app: AppContext, tmp_path: Path) -> None:
    """Another ssh_config could resolve a host name elsewhere, another policy trust other keys:
    such a command line reaches the hosts itself."""
    with socket_served(app, FakeConnector({})):
        other = SshOptions(ssh_config=tmp_path / "other_config")
        with pytest.raises(NoController, match="other SSH options"):
            ControllerClient.of(app.state, other).ask("ping")
        assert host_connector(AppContext(state=app.state, connector=other)) is other


@pytest.mark.parametrize("line", [b"not json\n", b"[1, 2]\n", b'{"token": "x"', b"\n", b"\xff\xfe\n"])
def test_garbled_or_cut_off_hellos_are_refused(app: AppContext, line: bytes) -> None:
    with socket_served(app, FakeConnector({})):
        answer = _exchange(app, line)
        assert str(answer["refused"]).startswith("bad hello:")


def test_an_oversized_line_is_refused(app: AppContext, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(controller_socket, "MAX_LINE", 4096)
    with socket_served(app, FakeConnector({})):
        answer = _exchange(app, _hello(app, padding="x" * 10_000))
        assert str(answer["refused"]).startswith("bad hello:")
        assert ControllerClient.of(app.state, app.connector).ask("ping")["ok"]  # and it serves on


def test_a_second_controller_does_not_steal_the_socket(app: AppContext, caplog: pytest.LogCaptureFixture) -> None:
    with socket_served(app, FakeConnector({})) as first:
        assert first is not None
        with socket_served(app, FakeConnector({})) as second:
            assert second is None
            assert "another controller serves the local socket" in caplog.text
        assert socket_path(app.state).exists()  # the second one's stop left the first one's file
        assert ControllerClient.of(app.state, app.connector).ask("ping")["pid"]


def test_a_dead_controllers_socket_file_is_replaced_and_then_falls_back(app: AppContext) -> None:
    path = socket_path(app.state)
    path.parent.mkdir(parents=True, exist_ok=True)
    with socket.socket(socket.AF_UNIX) as stale:  # bound and closed: nobody answers there
        stale.bind(str(path))
    assert path.exists()
    ensure_token(default_token_path(app.state))  # left by the dead controller too
    with pytest.raises(NoController, match="no controller answers"):
        ControllerClient.of(app.state, app.connector).ask("ping")
    assert warm_status(app, jobs=4, timeout=5) is None  # the command observes the hosts itself
    with socket_served(app, FakeConnector({})) as server:
        assert server is not None
        assert ControllerClient.of(app.state, app.connector).ask("ping")["ok"]


def test_no_socket_means_direct_connections(app: AppContext, capsys: pytest.CaptureFixture[str]) -> None:
    app.debug = True
    assert host_connector(app) is app.connector
    assert warm_status(app, jobs=4, timeout=5) is None
    assert "axis: direct connections: no controller socket at" in capsys.readouterr().err


def _relay(app: AppContext) -> RelayConnector:
    return RelayConnector(ControllerClient.of(app.state, app.connector), FakeConnector({}))


def test_relayed_runs_and_puts_answer_as_the_controllers_transport(app: AppContext) -> None:
    fake = FakeTransport("a", login_is_root=False).script("^echo hi", "hi\n", "warn\n", exit_status=3).script(
        "^false", "", "it broke\n", exit_status=1)
    with socket_served(app, FakeConnector({"a": fake})) as server:
        assert server is not None

        async def scenario() -> None:
            seen: list[tuple[str, str]] = []
            async with await _relay(app).connect(_host("a")) as transport:
                assert await transport.run("echo hi", on_output=lambda s, t: seen.append((s, t))) == \
                    RunResult(3, "hi\n", "warn\n")
                assert seen == [("stdout", "hi\n"), ("stderr", "warn\n")]
                with pytest.raises(TransportError) as failed:
                    await transport.run("false", check=True)
                direct = await fake.run("false", check=False)
                assert failed.value.kind is ErrorKind.COMMAND_FAILED
                assert str(failed.value) == "a: command failed: `false` exited 1: it broke"
                assert failed.value.result == direct
                await transport.put("/etc/x.conf", b"\x00binary\nline", mode=0o600)
                assert transport.as_root("id") == fake.as_root("id") == "sudo -n sh -c id"

        asyncio.run(scenario())
        assert fake.files["/etc/x.conf"] == (b"\x00binary\nline", 0o600)
        assert server.served["connect"] == 1


def test_a_host_the_controller_cannot_reach_fails_as_it_does_there(app: AppContext) -> None:
    with socket_served(app, FakeConnector({}, dead=frozenset({"gone"}))):
        async def scenario() -> TransportError:
            with pytest.raises(TransportError) as refused:
                await _relay(app).connect(_host("gone"))
            return refused.value

        error = asyncio.run(scenario())
        assert error.kind is ErrorKind.UNREACHABLE
        assert str(error) == "gone: unreachable: connection refused by host (is sshd running?)"


class _Blocking(FakeTransport):
    """A command that runs until cancelled, as a closed channel would end it."""

    started: asyncio.Event | None = None
    cancelled: list[str] | None = None

    async def run(self, command: str, *, input: str | None = None, timeout: float | None = None,
                  sudo: bool = False, check: bool = False, on_output: OutputCallback | None = None) -> RunResult:
        assert self.started is not None and self.cancelled is not None
        self.started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            self.cancelled.append(command)
            raise
        raise AssertionError("not reached")


def test_a_cancelled_or_abandoned_call_stops_in_the_controller(app: AppContext) -> None:
    blocking = _Blocking("a")
    blocking.cancelled = []
    with socket_served(app, FakeConnector({"a": blocking})) as server:
        assert server is not None

        async def started() -> None:
            assert blocking.started is not None
            while not blocking.started.is_set():
                await asyncio.sleep(0.01)
            blocking.started.clear()

        async def scenario() -> None:
            blocking.started = asyncio.Event()  # set from the server's thread: polled, not awaited
            async with await _relay(app).connect(_host("a")) as transport:
                call = asyncio.create_task(transport.run("sleep 1"))
                await started()
                call.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await call
                await _until(lambda: blocking.cancelled == ["sleep 1"])
                second = asyncio.create_task(transport.run("sleep 2"))
                await started()
            await _until(lambda: blocking.cancelled == ["sleep 1", "sleep 2"])  # the command line went away
            with pytest.raises(TransportError, match="connection lost"):  # and its own call ended
                await second

        asyncio.run(scenario())


def test_a_controller_gone_since_the_command_started_is_no_error(app: AppContext) -> None:
    fake = FakeTransport("a").script("^true", "")
    with socket_served(app, FakeConnector({})):
        relay = RelayConnector(ControllerClient.of(app.state, app.connector), FakeConnector({"a": fake}))
    assert asyncio.run(relay.connect(_host("a"))) is fake  # reached directly


async def _until(condition: object) -> None:
    for _ in range(500):
        if callable(condition) and condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached within 5s")


#: Runs a command line after the CLI's root modules are loaded, then prints the modules the
#: command itself loaded on top of them that a warm `axis status` must not need.
WARM_PROBE = """
import sys
from axis.main import run
before = set(sys.modules)
code = run(sys.argv[1:])
heavy = {"sqlalchemy", "sqlmodel", "asyncssh"}
own = {"axis.state.db", "axis.drivers.ssh", "axis.app.queries", "axis.app.observe"}
loaded = sorted(m for m in set(sys.modules) - before if m.split(".")[0] in heavy or m in own)
print("LOADED", code, " ".join(loaded), file=sys.stderr)
"""


def test_warm_status_renders_the_controllers_document_and_loads_no_db_nor_ssh(app: AppContext,
                                                                            state_db: Path | str) -> None:
    """What `axis status` loads on top of the command line's root when a controller answers: no
    SQLAlchemy, SQLModel or asyncssh, none of the state DB's or the direct path's own modules
    (with the root made light too, the whole command loads none of them); and it prints the
    document the controller built, the one `--cached` reads back from what it stored."""
    import os
    import subprocess
    import sys

    state = str(state_db)
    with socket_served(app, FakeConnector({})) as server:
        assert server is not None
        env = {**os.environ, "AXIS_STATE": state}
        done = subprocess.run([sys.executable, "-c", WARM_PROBE, "status", "-o", "json"], capture_output=True,
                              text=True, env=env, timeout=60)
        assert server.served["status"] == 1, done.stderr
    line = next(x for x in done.stderr.splitlines() if x.startswith("LOADED"))
    assert line.split(" ")[1:] == ["0", ""], line
    cached = subprocess.run([sys.executable, "-m", "axis", "status", "--cached", "-o", "json"], capture_output=True,
                            text=True, env=env, timeout=60)
    assert json.loads(done.stdout) == json.loads(cached.stdout)


def test_a_connection_that_never_says_hello_is_closed(app: AppContext, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(controller_socket, "HELLO_TIMEOUT", 0.2)
    with socket_served(app, FakeConnector({})):
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(str(socket_path(app.state)))
            sock.settimeout(30)
            with sock.makefile("rb") as answers:
                assert json.loads(answers.readline()) == {"refused": "no hello within 0.2s"}
