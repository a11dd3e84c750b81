"""Transports relayed through a running controller: a `Connector` for the command line whose
transports send `run` and `put` to the controller (`axis.app.relay_session` on its side), which
runs them on its own connection to the host and streams the output back. The code above a
transport (`axis on`, `axis diff`'s plan, `axis exec`'s job) is the very code of the direct path,
and sees the same results: exit statuses, and TransportErrors of the same kind, host and message.

Cancelling a call (a deadline, Ctrl-C) cancels it in the controller; a command line that dies
closes its socket, which cancels all its calls there: either closes the command's SSH channel, as
the end of the command line's own SSH connection would. A controller that has stopped since the
command started is no error: the next host is reached directly (`fallback`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from axis.app.controller_client import ControllerClient
from axis.app.controller_wire import MAX_LINE, WireError, decode, encode, peer_refused, socket_file_refused
from axis.drivers.connector import Connector
from axis.drivers.transport import (ClosedOnExit, ErrorKind, OutputCallback, RunResult, Transport,
                                    TransportError, privileged)
from axis.specs import Host


#: A put's message less its data, path and expected checksum (escaped, each character at most 6).
_PUT_ROOM = 256


def transport_error(data: Any, host: str, output: tuple[str, str] = ("", "")) -> TransportError:
    """The TransportError the controller's transport raised, rebuilt: same kind, host and detail,
    and for a failed command its result (the output is what was streamed before)."""
    if not isinstance(data, dict):
        return TransportError(ErrorKind.ERROR, host, f"the controller's relay answered {str(data)[:80]!r}")
    try:
        kind = ErrorKind(str(data.get("kind")))
    except ValueError:
        kind = ErrorKind.ERROR
    code = data.get("exit")
    result = RunResult(code, *output) if isinstance(code, int) else None
    return TransportError(kind, str(data.get("host", host)), str(data.get("detail", "")), result)


class RelayConnector:
    """Opens each host's transport in the controller (`connect` over a new socket connection);
    `fallback` (the command line's own connector) where the controller is gone or refuses."""

    def __init__(self, client: ControllerClient, fallback: Connector):
        self.client, self.fallback = client, fallback

    async def connect(self, host: Host) -> Transport:
        name = host.metadata.name
        if socket_file_refused(self.client.path) is not None:  # gone, or someone else's since
            return await self.fallback.connect(host)
        try:
            reader, writer = await asyncio.open_unix_connection(str(self.client.path), limit=MAX_LINE)
        except OSError:  # the controller stopped since this command asked it
            return await self.fallback.connect(host)
        if peer_refused(writer.get_extra_info("socket")) is not None:  # the token goes to no one else
            writer.close()
            return await self.fallback.connect(host)
        try:
            writer.write(encode(self.client.hello("connect", host=host.model_dump(mode="json"))))
            await writer.drain()
            answer = decode(await reader.readline())
        except (OSError, WireError, ValueError) as exc:
            writer.close()
            raise TransportError(ErrorKind.UNREACHABLE, name, f"the controller's relay failed: {exc}") from exc
        if answer.get("ok"):
            return RelayTransport(name, reader, writer, wraps_root=bool(answer.get("wraps_root")),
                                  direct=lambda: self.fallback.connect(host))
        writer.close()
        if "error" in answer:
            raise transport_error(answer["error"], name)
        return await self.fallback.connect(host)  # refused: another controller now, other SSH options


class RelayTransport(ClosedOnExit):
    """One host's transport in the controller, over one socket connection; calls run
    concurrently, each answer tagged with its call's id. A file too large for one message (past
    MAX_LINE once in base64) is written over a direct connection (`direct`, opened for it)."""

    def __init__(self, name: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, wraps_root: bool,
                 direct: Callable[[], Awaitable[Transport]]):
        self.name = name
        self._reader, self._writer, self._wraps_root = reader, writer, wraps_root
        self._connect_direct = direct
        self._direct: Transport | None = None
        self._opening_direct = asyncio.Lock()
        self._ids = itertools.count(1)
        self._calls: dict[int, asyncio.Queue[dict[str, Any] | None]] = {}
        self._lost = ""  # why the connection ended, once it has
        self._listener = asyncio.create_task(self._listen())

    async def run(self, command: str, *, input: str | None = None, timeout: float | None = None,
                  sudo: bool = False, check: bool = False,
                  on_output: OutputCallback | None = None) -> RunResult:
        streams: dict[str, list[str]] = {"stdout": [], "stderr": []}
        async with self._calling({"op": "run", "command": command, "input": input, "timeout": timeout,
                                  "sudo": sudo, "check": check}) as answer:
            while "out" in (message := await answer()):
                stream, text = str(message["out"]), str(message.get("text", ""))
                streams.setdefault(stream, []).append(text)
                if on_output is not None and (paced := on_output(stream, text)) is not None:
                    await paced
        output = ("".join(streams["stdout"]), "".join(streams["stderr"]))
        if "error" in message:
            raise transport_error(message["error"], self.name, output)
        return RunResult(int(message["exit"]), *output)

    async def put(self, path: str, data: bytes, *, mode: int = 0o644, sudo: bool = False,
                  expect: str | None = None) -> None:
        if _PUT_ROOM + 4 * -(-len(data) // 3) + 6 * (len(path) + len(expect or "")) > MAX_LINE:
            async with self._opening_direct:  # the line would be refused: no message is cut in two
                if self._direct is None:
                    self._direct = await self._connect_direct()
            await self._direct.put(path, data, mode=mode, sudo=sudo, expect=expect)
            return
        async with self._calling({"op": "put", "path": path, "data": base64.b64encode(data).decode(),
                                  "mode": mode, "sudo": sudo, "expect": expect}) as answer:
            message = await answer()
        if "error" in message:
            raise transport_error(message["error"], self.name)

    def as_root(self, command: str) -> str:
        return privileged(command, login_is_root=not self._wraps_root, sudo_allowed=True)

    async def close(self) -> None:
        """Close the socket connection: the controller cancels what still runs and keeps its own."""
        self._writer.close()
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()
        self._listener.cancel()
        await asyncio.gather(self._listener, return_exceptions=True)
        if self._direct is not None:
            await self._direct.close()

    @contextlib.asynccontextmanager
    async def _calling(self, request: dict[str, Any]) -> AsyncIterator[Callable[[], Awaitable[dict[str, Any]]]]:
        """Send a call; yield what returns its messages one by one, up to its answer (`exit`,
        `done` or `error`); UNREACHABLE once the connection is lost. Cancelled, or left by an
        error of the caller's (its output callback failed), it cancels the call in the controller,
        so that no command goes on running there for nobody."""
        call = next(self._ids)
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._calls[call] = queue

        async def answer() -> dict[str, Any]:
            if (message := await queue.get()) is None:
                raise TransportError(ErrorKind.UNREACHABLE, self.name, f"connection lost: the controller's relay "
                                                                       f"closed ({self._lost})")
            return message

        try:
            if self._listener.done():
                queue.put_nowait(None)
            try:
                self._writer.write(encode({"id": call, **request}))
                await self._writer.drain()
            except OSError as exc:
                self._lost = self._lost or str(exc)
                queue.put_nowait(None)
            yield answer
        except BaseException:  # cancelled, or the caller's output failed (`| head` gone: BrokenPipeError)
            with contextlib.suppress(OSError):
                self._writer.write(encode({"id": call, "op": "cancel"}))
            raise
        finally:
            del self._calls[call]

    async def _listen(self) -> None:
        """Hand each message to its call; at the end of the stream, tell every call it is lost."""
        try:
            while line := await self._reader.readline():
                message = decode(line)
                if (queue := self._calls.get(message.get("id"))) is not None:  # type: ignore[arg-type]
                    queue.put_nowait(message)
        except (OSError, WireError, ValueError) as exc:
            self._lost = str(exc)
        finally:
            self._lost = self._lost or "the controller closed the connection"
            for queue in self._calls.values():
                queue.put_nowait(None)
