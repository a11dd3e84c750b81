"""The command line's side of the controller's socket, against servers that misbehave: one that
never answers (a stopped or stuck controller whose socket the kernel still accepts on), one that
is not ours. Every such case is NoController, so the command reaches the hosts itself."""

from __future__ import annotations

import asyncio
import socket

import pytest

from axis.app import controller_client, controller_socket
from axis.app.context import AppContext
from axis.app.controller_client import ControllerClient, NoController
from axis.app.controller_wire import socket_path
from axis.app.token import default_token_path, ensure_token
from tests.fake_transport import FakeConnector
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
