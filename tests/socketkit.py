"""The controller's local socket served in-process for tests: `serving` on an event loop of its
own in a thread, as a controller would serve it beside its loop, so that the blocking client and
the relayed transports (on the test's own loop) talk to it for real."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from axis.app.context import AppContext
from axis.app.controller_socket import ControllerSocket, serving
from axis.drivers.connector import Connector


@contextlib.contextmanager
def socket_served(app: AppContext, connector: Connector) -> Iterator[ControllerSocket | None]:
    """`serving(app, app.db(), connector)` until the block ends; what it yielded (None: refused)."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def main() -> None:
        box["stop"] = stop = asyncio.Event()
        try:
            async with serving(app, app.db(), connector) as server:
                box["server"] = server
                ready.set()
                await stop.wait()
        finally:
            ready.set()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(30), "the socket did not start"
    try:
        yield box.get("server")
    finally:
        loop.call_soon_threadsafe(box["stop"].set)
        thread.join(30)
        loop.close()
