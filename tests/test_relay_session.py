"""The controller's half of a relayed transport where the command line misbehaves or the
transport does: a command line that takes no output (suspended) holds the command back instead
of filling the controller's memory; a transport that fails unexpectedly still answers the call."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from dataclasses import dataclass, field
from typing import Any

import pytest

from axis.app import controller_relay, relay_session
from axis.app.context import AppContext
from axis.app.controller_client import ControllerClient
from axis.app.controller_relay import RelayConnector
from axis.app.controller_wire import encode, socket_path
from axis.drivers.transport import ErrorKind, OutputCallback, RunResult, TransportError
from tests.fake_transport import FakeConnector, FakeTransport
from tests.poolkit import host
from tests.socketkit import socket_served

CHUNK = "x" * 8192


@dataclass
class Flooding(FakeTransport):
    """A command that prints CHUNKs until its output callback asks it to wait (`paced_after`)."""

    paced_after: int | None = None
    paced: threading.Event = field(default_factory=threading.Event)  # this instance's, not the class's

    async def run(self, command: str, *, on_output: OutputCallback | None = None, **_: Any) -> RunResult:
        assert on_output is not None
        for count in range(1, 4096):  # 32 MiB: far past the cap and every socket buffer
            if (wait := on_output("stdout", CHUNK)) is not None:
                self.paced_after = count
                self.paced.set()
                await wait
                break
        return RunResult(0, "", "")


def _call(app: AppContext, request: dict[str, Any]) -> tuple[socket.socket, Any]:
    """A raw relayed connection to host a with one call sent; the socket and its line reader."""
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(str(socket_path(app.state)))
    client = ControllerClient.of(app.state, app.connector)
    sock.sendall(encode(client.hello("connect", host=host("a").model_dump(mode="json"))))
    lines = sock.makefile("rb")
    assert json.loads(lines.readline())["ok"] is True
    sock.sendall(encode({"id": 1, **request}))
    return sock, lines


def test_a_command_line_that_takes_no_output_holds_the_command_back(app: AppContext,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(relay_session, "MAX_UNSENT", 64 * 1024)
    flooding = Flooding("a")
    with socket_served(app, FakeConnector({"a": flooding})):
        sock, lines = _call(app, {"op": "run", "command": "yes"})
        with sock, lines:
            assert flooding.paced.wait(30), "the relay never asked the command to wait"
            texts = []
            while "out" in (message := json.loads(lines.readline())):
                texts.append(message["text"])
    assert message == {"id": 1, "exit": 0}
    assert flooding.paced_after is not None and texts == [CHUNK] * flooding.paced_after


def test_a_file_too_large_for_one_message_is_written_over_a_direct_connection(
        app: AppContext, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past MAX_LINE in base64 the controller would refuse the line (and the command line see a
    lost connection): such a put goes over the command line's own connection to the host."""
    monkeypatch.setattr(controller_relay, "MAX_LINE", 4096)
    in_controller, direct = FakeTransport("a").script("^true", ""), FakeTransport("a")

    async def scenario() -> None:
        relay = RelayConnector(ControllerClient.of(app.state, app.connector), FakeConnector({"a": direct}))
        async with await relay.connect(host("a")) as transport:
            await transport.put("/etc/small", b"s" * 100)
            await transport.put("/etc/large", b"L" * 8192, mode=0o600)
        assert direct.closed

    with socket_served(app, FakeConnector({"a": in_controller})):
        asyncio.run(scenario())
    assert in_controller.files == {"/etc/small": (b"s" * 100, 0o644)}
    assert direct.files == {"/etc/large": (b"L" * 8192, 0o600)}


@dataclass
class Endless(FakeTransport):
    """A command that prints one line, then runs until cancelled (`cancelled`), or fails at once
    with a bug of the transport's (`bug`)."""

    cancelled: threading.Event = field(default_factory=threading.Event)  # this instance's, not the class's
    bug: Exception | None = None

    async def run(self, command: str, *, on_output: OutputCallback | None = None, **_: Any) -> RunResult:
        if self.bug is not None:
            raise self.bug
        assert on_output is not None
        on_output("stdout", "first\n")
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        return RunResult(0, "", "")


def test_a_caller_whose_output_fails_cancels_the_command_in_the_controller(app: AppContext) -> None:
    """`axis on h 'yes' | head -1`: the pipe closes, printing fails, and the command must not go
    on running in the controller."""
    endless = Endless("a")

    def printing(stream: str, text: str) -> None:
        raise BrokenPipeError(32, "Broken pipe")

    async def scenario() -> None:
        relay = RelayConnector(ControllerClient.of(app.state, app.connector), FakeConnector({}))
        async with await relay.connect(host("a")) as transport:
            with pytest.raises(BrokenPipeError):
                await transport.run("yes", on_output=printing)
            assert await asyncio.to_thread(endless.cancelled.wait, 30)  # while the connection is still open

    with socket_served(app, FakeConnector({"a": endless})):
        asyncio.run(scenario())


def test_an_unexpected_error_of_the_transport_still_answers_the_call(app: AppContext) -> None:
    broken = Endless("a")
    broken.bug = RuntimeError("a bug")

    async def scenario() -> None:
        relay = RelayConnector(ControllerClient.of(app.state, app.connector), FakeConnector({}))
        async with await relay.connect(host("a")) as transport:
            with pytest.raises(TransportError) as failed:
                await transport.run("true")
        assert failed.value.kind is ErrorKind.ERROR and "RuntimeError: a bug" in str(failed.value)

    with socket_served(app, FakeConnector({"a": broken})):
        asyncio.run(scenario())
