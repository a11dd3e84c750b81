"""The command line's side of the controller's socket, against servers that misbehave: one that
never answers (a stopped or stuck controller whose socket the kernel still accepts on), one that
is not ours. Every such case is NoController, so the command reaches the hosts itself."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import socket
from pathlib import Path

import pytest

from axis.app import controller_client, controller_socket, controller_wire
from axis.app.context import AppContext
from axis.app.controller_client import ControllerClient, NoController
from axis.app.controller_relay import RelayConnector
from axis.app.controller_wire import socket_path, ssh_identity
from axis.app.token import default_token_path, ensure_token
from tests.poolkit import host
from tests.fake_transport import FakeConnector, FakeTransport
from tests.socketkit import socket_served


def _listening(app: AppContext) -> socket.socket:
    """A socket bound at the controller's path that accepts (the kernel does) and never answers."""
    ensure_token(default_token_path(app.state))
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(socket_path(app.state)))
    sock.listen(4)
    return sock


def test_a_controller_that_never_answers_is_no_controller(app: AppContext, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(controller_client, "CONNECT_TIMEOUT", 0.2)
    with _listening(app):
        client = ControllerClient.of(app.state, app.connector)
        with pytest.raises(NoController, match="did not answer within 0.2s"):
            client.ask("ping")
        with pytest.raises(NoController, match="did not answer"):
            client.ask("status", jobs=4, timeout=30.0)


def test_a_busy_controller_is_waited_for(app: AppContext, monkeypatch: pytest.MonkeyPatch) -> None:
    """While status observes the hosts, the controller's heartbeats keep the command line waiting
    past the silence it allows, up to the answer."""
    monkeypatch.setattr(controller_client, "CONNECT_TIMEOUT", 0.3)
    monkeypatch.setattr(controller_socket, "HEARTBEAT", 0.05)

    async def slow_status(self: object, *, jobs: int, timeout: float) -> dict[str, str]:
        await asyncio.sleep(1.0)  # several silences' worth
        return {"observed": "yes"}

    monkeypatch.setattr(controller_socket.ControllerSocket, "status", slow_status)
    with socket_served(app, FakeConnector({})):
        answer = ControllerClient.of(app.state, app.connector).ask("status", jobs=4, timeout=30.0)
    assert answer["status"] == {"observed": "yes"}


def test_a_socket_file_of_another_user_gets_no_token(app: AppContext) -> None:
    """A user who can write the state DB's directory could bind the socket while no controller
    runs: theirs is not used (and a file that is no socket neither)."""
    with _listening(app):
        path = socket_path(app.state)
        os.chown(path, 12345, 12345)
        with pytest.raises(NoController, match="belongs to uid 12345"):
            ControllerClient.of(app.state, app.connector)
    path.unlink()
    path.write_text("not a socket")
    with pytest.raises(NoController, match="is not a socket"):
        ControllerClient.of(app.state, app.connector)


def test_a_peer_of_another_user_gets_no_token(app: AppContext, monkeypatch: pytest.MonkeyPatch) -> None:
    """The process serving the socket is asked who it is (SO_PEERCRED) before the hello leaves;
    one of another user is not talked to, by the blocking client or by relayed connects."""
    fake = FakeTransport("a").script("^true", "")
    with socket_served(app, FakeConnector({})) as server:
        assert server is not None
        client = ControllerClient.of(app.state, app.connector)
        monkeypatch.setattr(controller_wire, "peer_uid", lambda sock: 12345)
        with pytest.raises(NoController, match="not sending the token.*uid 12345"):
            client.ask("ping")
        relay = RelayConnector(client, FakeConnector({"a": fake}))
        assert asyncio.run(relay.connect(host("a"))) is fake  # reached directly
        monkeypatch.undo()
        assert server.served == {}


def test_a_user_whose_default_ssh_files_differ_is_not_served(app: AppContext, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Root's ~/.ssh/config and known_hosts are not the controller user's, though both leave the
    options at their defaults: the command line then reaches the hosts itself."""
    with socket_served(app, FakeConnector({})):  # the controller user's ~: this process's
        client = ControllerClient.of(app.state, app.connector)
        assert client.ask("ping")["ok"] is True
        monkeypatch.setenv("HOME", str(tmp_path / "root"))  # another ~ (PostgreSQL's socket path is under ~: kept)
        as_root = dataclasses.replace(client, ssh=ssh_identity(app.connector))
        with pytest.raises(NoController, match="other SSH options"):
            as_root.ask("ping")
