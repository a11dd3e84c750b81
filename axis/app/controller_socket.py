"""The controller's local socket: `axis status`, `on`, `diff` and `exec` run on a state DB whose
controller is running use its connections instead of opening their own (`axis.app.controller_wire`
says what travels; `axis.app.controller_client` and `axis.app.controller_relay` are the callers).

Served on the controller's event loop with the connector its passes use, beside the loop, for as
long as it runs (`serving`). Who may use it is the API's rule: the token in the API's token file,
compared in constant time; the socket is also mode 0600 and only a caller of this process's user
(or root) is served, so the socket gives no one a host the token and their own SSH keys do not.

One controller per state DB serves it: the first to take the lock file beside the socket. A
second one (possible on PostgreSQL) logs that and runs without a socket; a socket file left by a
controller that died (nobody holds the lock) is replaced. The file is removed when the loop stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import socket
import tempfile
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from axis.app.context import AppContext
from axis.app.controller_wire import (HEARTBEAT, MAX_LINE, WORKING, WireError, decode, encode, peer_refused,
                                     socket_path, ssh_identity)
from axis.app.documents import ClusterStatus
from axis.app.observe import observe_and_store
from axis.app.queries import cluster_status
from axis.app.relay_session import Send, relay
from axis.app.token import TokenError, default_token_path, ensure_token, same_token
from axis.drivers.connector import Connector
from axis.drivers.pool import ConnectionPool
from axis.drivers.transport import Transport
from axis.specs import Host
from axis.state import Database

logger = logging.getLogger(__name__)

#: The longest path a unix socket can be bound to (sun_path less its NUL, Linux).
MAX_PATH = 107
#: Seconds a connection may take to say hello (a stray one is not served forever).
HELLO_TIMEOUT = 10.0


class ControllerSocket:
    """The server: `ping`, `status` and relayed `connect`s, counted per op in `served` (which
    `ping` answers with, so a test or a person can see that work went through the controller)."""

    def __init__(self, db: Database, connector: Connector, token: str, ssh: dict[str, str | None]):
        self.db, self.connector, self.token, self.ssh = db, connector, token, ssh
        self.served: Counter[str] = Counter()
        self._clients: set[asyncio.Task[Any]] = set()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One connection: the hello, checked, then its op; closed at the end whatever happened."""
        task = asyncio.current_task()
        assert task is not None
        self._clients.add(task)
        lock = asyncio.Lock()

        async def send(message: dict[str, Any]) -> None:
            async with lock:
                writer.write(encode(message))
                await writer.drain()

        try:
            refused = peer_refused(writer.get_extra_info("socket"))
            try:
                async with asyncio.timeout(HELLO_TIMEOUT):
                    first = decode(await reader.readline())
            except (WireError, ValueError) as exc:  # ValueError: longer than the reader's limit
                refused = refused or f"bad hello: {exc}"
                first = {}
            except TimeoutError:
                refused, first = refused or f"no hello within {HELLO_TIMEOUT:g}s", {}
            token = first.get("token")
            if not refused and not (isinstance(token, str) and same_token(token, self.token)):
                refused = "wrong token"
            if not refused and first.get("ssh") != self.ssh:
                refused = f"this controller reaches hosts with other SSH options ({self.ssh})"
            if refused:
                logger.warning("local socket: refused a request: %s", refused, extra={"refused": refused})
                await send({"refused": refused})
                return
            await self._serve(first, reader, writer, send)
        except ConnectionError:
            pass  # the caller went away
        finally:
            self._clients.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _serve(self, first: dict[str, Any], reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     send: Send) -> None:
        op = first.get("op")
        if op == "ping":
            await send({"ok": True, "pid": os.getpid(), "served": dict(self.served)})
        elif op == "status":
            try:
                jobs, timeout = int(first.get("jobs", 32)), float(first.get("timeout", 30.0))
            except (TypeError, ValueError) as exc:
                await send({"refused": f"bad status request: {exc}"})
                return
            self.served["status"] += 1
            working = asyncio.create_task(self.status(jobs=max(1, jobs), timeout=timeout))
            try:
                while not (await asyncio.wait({working}, timeout=HEARTBEAT))[0]:
                    await send(WORKING)  # a busy controller, not a stuck one, to the command line
                document = working.result()
            except ConnectionError:
                raise  # the command line went away
            except Exception as exc:  # the command line then observes the hosts itself
                logger.exception("local socket: status failed: %s", exc)
                await send({"refused": f"the controller could not answer: {type(exc).__name__}: {exc}"})
                return
            finally:
                working.cancel()  # done, or nobody waits for it any more
            await send({"ok": True, "status": document})
        elif op == "connect":
            try:
                host = Host.model_validate(first.get("host"))
            except ValidationError as exc:
                await send({"refused": f"bad host: {exc.errors()[0].get('msg')}"})
                return
            self.served["connect"] += 1
            logger.debug("local socket: relaying the command line's work on %s", host.metadata.name,
                         extra={"host": host.metadata.name})
            await relay(self.connector, host, reader, writer, send)
        else:
            await send({"refused": f"unknown op {str(op)[:40]!r}"})

    async def status(self, *, jobs: int, timeout: float) -> ClusterStatus:
        """What `axis status` prints: every desired host observed now through this controller's
        connections and stored, as the direct path does (the same `observe_and_store`), then the
        snapshot built by the direct path's own builder. The DB's reads and writes run in a worker
        thread, off the controller's loop."""
        await observe_and_store(self.db.snapshot, self.db.write, self.connector, jobs=jobs, timeout=timeout,
                                blocking=asyncio.to_thread)
        return await asyncio.to_thread(cluster_status, self.db)

    async def close_clients(self) -> None:
        """Cancel the connections being served (the loop is stopping) and wait for them."""
        for task in list(self._clients):
            task.cancel()
        await asyncio.gather(*self._clients, return_exceptions=True)


@dataclass(frozen=True)
class TryingNow:
    """The controller's pool as the command line gets it: a host in its reconnect backoff is tried
    at once, as a direct connect would, so a host that just came back is not reported as still
    failing, and an unreachable one is told in the same words as without a controller; its calls
    have their own budget of session slots and never retire the controller's kept connection
    (`ConnectionPool.connect(relayed=True)`)."""

    pool: ConnectionPool

    async def connect(self, host: Host) -> Transport:
        return await self.pool.connect(host, now=True, relayed=True)


@contextlib.asynccontextmanager
async def serving(app: AppContext, db: Database, connector: Connector) -> AsyncIterator[ControllerSocket | None]:
    """Serve the socket of `app`'s state DB on the running loop with `connector` (the one the
    controller's passes use) while the body runs; None, logged, where this controller cannot or
    must not serve it (another one does, no token, a path too long, hosts not reached over SSH):
    the command line then reaches hosts itself, as without a controller."""
    path = socket_path(app.state)
    ssh = ssh_identity(app.connector)
    if ssh is None:  # hosts reached otherwise (tests' fakes): no command line could match it
        logger.debug("no local socket: hosts are not reached over SSH")
        yield None
        return
    try:
        token = ensure_token(default_token_path(app.state))
    except TokenError as exc:
        logger.warning("no local socket for the command line: %s", exc)
        yield None
        return
    with contextlib.ExitStack() as stack:
        sock = _bind(path, stack)
        if sock is None:
            yield None
            return
        if isinstance(connector, ConnectionPool):
            connector = TryingNow(connector)
        server = ControllerSocket(db, connector, token, ssh)
        listener = await asyncio.start_unix_server(server.handle, sock=sock, limit=MAX_LINE)
        logger.info("local socket %s: the command line uses this controller's connections", path,
                    extra={"socket": str(path)})
        try:
            yield server
        finally:
            listener.close()
            await server.close_clients()
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def _bind(path: Path, stack: contextlib.ExitStack) -> socket.socket | None:
    """The listening socket at `path`, mode 0600, holding the lock beside it until `stack` closes;
    None (logged) when another controller holds the lock, the path is too long, or the directory
    will not have it (permissions, a full disk, a link where the lock file goes): the controller
    runs without a socket rather than not at all."""
    if max(len(os.fsencode(path)), len(os.fsencode(path.parent)) + 22) > MAX_PATH:  # 22: the private dir's "/.axis-sock-XXXXXXXX/s"
        logger.warning("no local socket for the command line: %s is longer than a unix socket path may be", path)
        return None
    try:
        return _bind_locked(path, stack)
    except OSError as exc:
        logger.warning("no local socket for the command line at %s: %s", path, exc,
                       extra={"socket": str(path), "error": str(exc)})
        return None


def _bind_locked(path: Path, stack: contextlib.ExitStack) -> socket.socket | None:
    lock = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    stack.callback(os.close, lock)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        logger.warning("another controller serves the local socket %s; this one runs without it", path,
                       extra={"socket": str(path)})
        return None
    # Bound in a fresh 0700 directory, made 0600, then renamed into place: never reachable with
    # looser permissions, and a socket file left by a controller that died is replaced at once.
    private = Path(tempfile.mkdtemp(prefix=".axis-sock-", dir=path.parent))
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stack.callback(sock.close)
    try:
        sock.bind(str(private / "s"))
        os.chmod(private / "s", 0o600)
        sock.listen(64)
        os.rename(private / "s", path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            (private / "s").unlink()
        private.rmdir()
    return sock
