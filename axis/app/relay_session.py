"""The controller's half of a relayed transport: one socket connection carries one host's
transport, opened with the controller's own connector (after the hello's `connect`), and the
command line's `run` and `put` calls on it (`axis.app.controller_relay` is the other half).

Messages after the `connect` answer, each with the call's `id`:
- from the command line: `{"op": "run", command, input, timeout, sudo, check}`,
  `{"op": "put", path, data (base64), mode, sudo, expect}`, `{"op": "cancel"}`;
- to it: `{"out": "stdout"|"stderr", "text"}` as the output arrives, then `{"exit": N}` (run) or
  `{"done": true}` (put), or `{"error": {kind, host, detail, exit?}}` for a TransportError, with
  the exit status of a failed command's result (its output is what was streamed before).

Output the command line does not take (suspended, slow) pauses the reading of that command's
channel past `MAX_UNSENT` bytes (back-pressure, not an error). Calls run concurrently, as on an
SSH connection. A cancelled call, and every call in flight when
the command line goes away (done, interrupted, killed: its end of the socket closes), is cancelled
here, which closes its SSH channel as the command line's own connection closing would have; then
the transport is left (`async with`), which a pooled connector takes back.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from axis.app.controller_wire import WireError, decode, encode
from axis.drivers.connector import Connector
from axis.drivers.transport import ErrorKind, Transport, TransportError
from axis.specs import Host

logger = logging.getLogger(__name__)

#: Bytes of a call's output the command line may leave untaken (suspended with Ctrl-Z, slow)
#: before the command's SSH channel is read no more: SSH's flow control then holds the command
#: back, as it would on the command line's own connection, and the controller's memory is bounded.
MAX_UNSENT = 8 * 1024 * 1024
#: Sends one message and waits until it is written.
Send = Callable[[dict[str, Any]], Awaitable[None]]


def error_data(exc: TransportError) -> dict[str, Any]:
    """A TransportError as it travels: kind, host, detail, and a failed command's exit status."""
    return {"kind": str(exc.kind), "host": exc.host, "detail": exc.detail,
            "exit": exc.result.exit_status if exc.result is not None else None}


async def relay(connector: Connector, host: Host, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                send: Send) -> None:
    """Open `host`'s transport and serve the calls that come in over this connection until the
    command line closes it."""
    try:
        transport = await connector.connect(host)
    except TransportError as exc:
        await send({"error": error_data(exc)})
        return
    async with transport:
        # `as_root` is a pure function of the login user and the spec's sudo; the relay only needs
        # to know whether it wraps a command (`sudo -n sh -c ...`) or leaves it as it is.
        await send({"ok": True, "wraps_root": transport.as_root("true") != "true"})
        calls: dict[int, asyncio.Task[None]] = {}
        try:
            while line := await reader.readline():
                message = decode(line)
                call = message.get("id")
                if not isinstance(call, int) or isinstance(call, bool):
                    raise WireError("a call without an integer id")
                if message.get("op") == "cancel":
                    if (task := calls.pop(call, None)) is not None:
                        task.cancel()
                elif message.get("op") in ("run", "put") and call not in calls:
                    task = asyncio.create_task(_call(transport, call, message, writer, send))
                    calls[call] = task
                    task.add_done_callback(_forget(calls, call))
                else:
                    raise WireError(f"unknown op {str(message.get('op'))[:40]!r} or id {call} in use")
        except (WireError, ValueError) as exc:  # ValueError: a line past the reader's limit
            logger.warning("relay for %s: closing a connection that sent a bad message: %s", host.metadata.name, exc,
                           extra={"host": host.metadata.name, "error": str(exc)})
        except ConnectionError:
            pass  # the command line went away: as EOF
        finally:
            for task in calls.values():
                task.cancel()
            await asyncio.gather(*calls.values(), return_exceptions=True)


def _forget(calls: dict[int, asyncio.Task[None]], call: int) -> Callable[[asyncio.Task[None]], None]:
    """A done callback that drops a finished call (unless its id is already another call's)."""
    def forget(done: asyncio.Task[None]) -> None:
        if calls.get(call) is done:
            del calls[call]

    return forget


async def _call(transport: Transport, call: int, message: dict[str, Any], writer: asyncio.StreamWriter,
                send: Send) -> None:
    """One run or put; its answer (or TransportError) goes back tagged with `call`."""
    def output(stream: str, text: str) -> Awaitable[None] | None:
        """Written at once, in order; past MAX_UNSENT not yet taken by the command line (one that
        is suspended, or slow), the command's channel is read no more until it is drained."""
        writer.write(encode({"id": call, "out": stream, "text": text}))
        return _drained(writer) if writer.transport.get_write_buffer_size() > MAX_UNSENT else None

    try:
        try:
            if message["op"] == "run":
                stdin = message.get("input")
                result = await transport.run(
                    _text(message, "command"), input=None if stdin is None else str(stdin),
                    timeout=None if message.get("timeout") is None else float(message["timeout"]),
                    sudo=bool(message.get("sudo")), check=bool(message.get("check")), on_output=output)
                answer: dict[str, Any] = {"id": call, "exit": result.exit_status}
            else:
                expect = message.get("expect")
                await transport.put(_text(message, "path"), base64.b64decode(_text(message, "data"), validate=True),
                                    mode=int(message.get("mode", 0o644)), sudo=bool(message.get("sudo")),
                                    expect=None if expect is None else str(expect))
                answer = {"id": call, "done": True}
        except TransportError as exc:
            answer = {"id": call, "error": error_data(exc)}
        except (KeyError, TypeError, ValueError) as exc:  # arguments the transport refused, or none
            answer = {"id": call, "error": error_data(TransportError(ErrorKind.ERROR, transport.name,
                                                                      f"bad relayed call: {exc}"))}
        except Exception as exc:  # a bug of the transport's: the call is answered all the same
            logger.exception("relay for %s: the transport failed: %s", transport.name, exc,
                             extra={"host": transport.name})
            answer = {"id": call, "error": error_data(TransportError(
                ErrorKind.ERROR, transport.name, f"the controller's transport failed: {type(exc).__name__}: {exc}"))}
        await send(answer)
    except ConnectionError:
        pass  # nobody to answer: the command line is gone, and the loop above cancels the rest


async def _drained(writer: asyncio.StreamWriter) -> None:
    """Wait until the command line has taken its output; one that went away is no error of the
    host's connection (the relay loop cancels its calls)."""
    with contextlib.suppress(ConnectionError):
        await writer.drain()


def _text(message: dict[str, Any], key: str) -> str:
    value = message[key]
    if not isinstance(value, str):
        raise TypeError(f"{key} must be a string")
    return value
