"""`Transport` over asyncssh: one connection per host, reused for every step of a pass.

~/.ssh/config (or `--ssh-config`) is honoured through asyncssh (aliases, User, Port,
IdentityFile, ProxyJump, ssh-agent); host keys are checked by `axis.drivers.hostkeys`. Every
asyncssh or socket failure leaves this module as a `TransportError` with a plain-words kind.
"""

from __future__ import annotations

import asyncio
import codecs
import functools
import secrets
import shlex
import signal
import socket
from pathlib import Path
from typing import Any

import asyncssh
import asyncssh.config

from axis.drivers.host_key_policy import HostKeyPolicy
from axis.drivers.hostkeys import PolicyClient, known_hosts_files, load_trusted
from axis.drivers.transport import (ClosedOnExit, ErrorKind, OutputCallback, RunResult, Target, TransportError,
                                    atomic_write_command, command_failed, kill_command, killable,
                                    privileged, sudo_refusal)

#: A host lost mid-operation (power cut, network gone) is found by SSH keepalives, not by the
#: command timeout. asyncssh ticks every KEEPALIVE_INTERVAL seconds in which nothing (no byte, no
#: keepalive answer) came from the host; the first KEEPALIVE_MISSES ticks send a keepalive, the
#: next one drops the connection: after SILENCE_LIMIT = 3 s x (3 + 1) = 12 s of silence the
#: command fails as unreachable, 8 s inside the 20 s a lost host may take even on a loaded
#: machine. sshd answers keepalives within milliseconds while a command prints nothing (a quiet
#: `apt-get install`), so only a host that is really gone is cut; a slow link is too, once a
#: round trip takes over ~9 s (the first keepalive's answer may come until the dropping tick).
#: (15 s x 3 took 60 s to notice a host gone; 5 s x 2 left only 5 s of margin.)
KEEPALIVE_INTERVAL, KEEPALIVE_MISSES = 3.0, 3
SILENCE_LIMIT = KEEPALIVE_INTERVAL * (KEEPALIVE_MISSES + 1)
#: The keepalive interval of a connection kept open with nothing running on it (the controller's
#: `axis.drivers.pool` between passes): a keepalive every 3 s on each idle connection cost the
#: controller more CPU than its passes; every 30 s still keeps NAT and firewall state and finds a
#: host gone between passes within two minutes. A connection in use is back on KEEPALIVE_INTERVAL.
IDLE_KEEPALIVE_INTERVAL = 30.0
_CHUNK = 1 << 16

#: Ciphers tried first unless ssh_config sets `Ciphers`: asyncssh's own first choice,
#: chacha20-poly1305, costs it three cipher contexts per packet in Python, AES-GCM one OpenSSL
#: call (a fan-out spent a fifth of its client CPU in chacha20). The rest of asyncssh's list follows.
PREFERRED_CIPHERS = "^aes128-gcm@openssh.com,aes256-gcm@openssh.com"


class _MemoShlex:
    """`shlex` for asyncssh's ssh_config parser, with `split` memoized.

    asyncssh reads the whole ssh_config again for every connection and `shlex.split`s every
    line of it, matching Host block or not: a pass over N hosts that one ssh_config lists split
    N x (lines of that file) lines, O(N²) and most of the pass's CPU at 50 hosts. Same line,
    same words, so each distinct line is split once per process.
    """

    @staticmethod
    @functools.lru_cache(maxsize=16384)
    def _split(line: str) -> tuple[str, ...]:
        return tuple(shlex.split(line))

    def split(self, s: str, comments: bool = False, posix: bool = True) -> list[str]:
        if comments or not posix:
            return shlex.split(s, comments, posix)
        return list(self._split(s))

    def __getattr__(self, name: str) -> Any:
        return getattr(shlex, name)


if getattr(asyncssh.config, "shlex", None) is shlex:
    # A module-shaped stand-in (it forwards everything but split): mypy sees a module type.
    asyncssh.config.shlex = _MemoShlex()  # type: ignore[assignment]


class _WatchedClient(PolicyClient):
    """`PolicyClient` that also remembers why its connection ended, for a kept connection that
    the host closed while nobody used it (sshd restarted, the session killed): whoever finds it
    closed (`SSHTransport.lost`) says why."""

    def __init__(self, name: str, files: list[Path], policy: HostKeyPolicy):
        super().__init__(name, files, policy)
        self.name = name
        self.lost: str | None = None

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = _classify(self.name, exc).detail if exc is not None else "closed"


class SSHTransport(ClosedOnExit):
    """An open, authenticated connection to one host."""

    def __init__(self, target: Target, conn: asyncssh.SSHClientConnection, client: _WatchedClient | None = None):
        self.name = target.name
        self.target = target
        self._conn = conn
        self._client = client
        self.login_user: str = conn.get_extra_info("username") or ""

    @property
    def login_is_root(self) -> bool:
        return self.login_user == "root"

    async def run(self, command: str, *, input: str | None = None, timeout: float | None = None,
                  sudo: bool = False, check: bool = False,
                  on_output: OutputCallback | None = None) -> RunResult:
        token = secrets.token_hex(8) if timeout is not None else None
        body = killable(command, token) if token else command
        line = self._as(body, sudo)
        try:
            result = await self._exec(line, input.encode() if input is not None else None, timeout, on_output)
        except TransportError as exc:
            if token and exc.kind is ErrorKind.TIMEOUT:
                await self._kill_group(token, sudo)
            raise
        if sudo and (refused := sudo_refusal(self.name, result)) is not None:
            raise refused
        if check and not result.ok:
            raise command_failed(self.name, command, result)
        return result

    async def put(self, path: str, data: bytes, *, mode: int = 0o644, sudo: bool = False,
                  expect: str | None = None) -> None:
        command = atomic_write_command(path, mode, len(data), expect)
        result = await self._exec(self._as(command, sudo), data, None, None)
        if sudo and (refused := sudo_refusal(self.name, result)) is not None:
            raise refused
        if not result.ok:
            raise command_failed(self.name, f"write {path}", result)

    def as_root(self, command: str) -> str:
        return self._as(command, True)

    def _as(self, command: str, sudo: bool) -> str:
        return privileged(command, login_is_root=self.login_is_root, sudo_allowed=self.target.sudo) if sudo else command

    async def _kill_group(self, token: str, sudo: bool) -> None:
        """Kill what a timed-out command left running, best effort: sshd refuses channel signals
        for root sessions (OpenSSH 9.2: "session signalling requires privilege separation")."""
        try:
            await self._exec(self._as(kill_command(token), sudo), None, 10.0, None)
        except TransportError:
            pass

    async def close(self) -> None:
        self._conn.close()
        await self._conn.wait_closed()

    def lost(self) -> str | None:
        """None while the connection is open, else why it closed (a kept connection is then
        opened anew, `axis.drivers.pool`)."""
        if not self._conn.is_closed():
            return None
        return (self._client.lost if self._client is not None else None) or "closed"

    def keep_idle(self, idle: bool) -> None:
        """Keepalives every IDLE_KEEPALIVE_INTERVAL while nothing runs on the connection, every
        KEEPALIVE_INTERVAL (a host lost mid-command fails within SILENCE_LIMIT) while it is used."""
        self._conn.set_keepalive(IDLE_KEEPALIVE_INTERVAL if idle else KEEPALIVE_INTERVAL, KEEPALIVE_MISSES)

    async def _exec(self, line: str, stdin: bytes | None, timeout: float | None,
                    on_output: OutputCallback | None) -> RunResult:
        try:
            process = await self._conn.create_process(line, encoding=None)
        except asyncssh.ChannelOpenError as exc:
            # a connection that went away as the channel opened (a kept connection whose link was
            # cut): the connection was lost, with its reason; the host refused nothing
            if exc.code == asyncssh.OPEN_CONNECT_FAILED and (why := self.lost()) is not None:
                raise TransportError(ErrorKind.UNREACHABLE, self.name, _lost_words(why)) from exc
            raise _classify(self.name, exc) from exc
        except (asyncssh.Error, OSError) as exc:
            raise _classify(self.name, exc) from exc
        try:
            async with asyncio.timeout(timeout):
                if stdin:
                    process.stdin.write(stdin)
                process.stdin.write_eof()
                out, err = await asyncio.gather(_drain(process.stdout, "stdout", on_output),
                                                _drain(process.stderr, "stderr", on_output))
                await process.wait_closed()
        except TimeoutError:
            process.close()
            raise TransportError(ErrorKind.TIMEOUT, self.name,
                                 f"command still running after {timeout:g}s; killed") from None
        except (asyncssh.Error, OSError) as exc:
            raise _classify(self.name, exc) from exc
        except asyncio.CancelledError:
            # Its caller gave up (a relayed command whose command line went away, a pass halted):
            # the channel closes now, as it would with the connection, even where a pool keeps that.
            process.close()
            raise
        return RunResult(_exit_code(process), out, err)


async def connect(target: Target, *, known_hosts: Path | None = None,
                  policy: HostKeyPolicy = HostKeyPolicy.STRICT, ssh_config: Path | None = None,
                  connect_timeout: float = 10.0) -> SSHTransport:
    """Open and authenticate one connection; raise a classified TransportError otherwise."""
    config: tuple[()] | list[str] = [str(ssh_config)] if ssh_config else ()
    port: tuple[()] | int = target.port if target.port else ()
    username: tuple[()] | str = target.user if target.user else ()
    try:
        options = asyncssh.SSHClientConnectionOptions(config=config, host=target.address, port=port,
                                                      username=username)
    except (asyncssh.Error, OSError, ValueError) as exc:
        raise TransportError(ErrorKind.ERROR, target.name, f"ssh_config: {exc}") from exc
    files = known_hosts_files(known_hosts, options.known_hosts)
    client = _WatchedClient(target.name, files, policy)
    extra: dict[str, Any] = {} if options.config.get("Ciphers") else {"encryption_algs": PREFERRED_CIPHERS}
    if options.tunnel or options.config.has_match_final() or (options.canonicalize_hostname and
                                                              options.canonical_domains):
        # config again where asyncssh reads it again: a ProxyJump tunnel is opened with it (else
        # ~/.ssh/config is read), `Match final` and canonicalized names re-evaluate it. Nowhere
        # else: it would parse the whole file a second time for every connection.
        extra["config"] = config
    try:
        async with asyncio.timeout(connect_timeout):
            conn = await asyncssh.connect(
                target.address, port, options=options, known_hosts=load_trusted(files),
                client_factory=lambda: client, connect_timeout=connect_timeout,
                keepalive_interval=KEEPALIVE_INTERVAL, keepalive_count_max=KEEPALIVE_MISSES, **extra)
    except TimeoutError:
        raise TransportError(ErrorKind.TIMEOUT, target.name,
                             f"no SSH answer from {target.address} within {connect_timeout:g}s") from None
    except asyncssh.HostKeyNotVerifiable as exc:
        raise (client.refusal or TransportError(ErrorKind.HOST_KEY_UNKNOWN, target.name, str(exc))) from exc
    except (asyncssh.Error, OSError) as exc:
        raise _classify(target.name, exc, target.address) from exc
    return SSHTransport(target, conn, client)


async def _drain(stream: asyncssh.SSHReader[bytes], name: str, on_output: OutputCallback | None) -> str:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    parts: list[str] = []
    while chunk := await stream.read(_CHUNK):
        text = decoder.decode(chunk)
        parts.append(text)
        if on_output is not None and text and (paced := on_output(name, text)) is not None:
            await paced  # the reader is behind: read no more from the channel until it catches up
    tail = decoder.decode(b"", final=True)
    if tail:
        parts.append(tail)
        if on_output is not None and (paced := on_output(name, tail)) is not None:
            await paced
    return "".join(parts)


def _exit_code(process: asyncssh.SSHClientProcess[bytes]) -> int:
    """The exit status, or 128 + signal number like a shell when the command died of a signal."""
    if process.exit_status is not None and process.exit_status >= 0:
        return process.exit_status
    if process.exit_signal:
        try:
            return 128 + int(signal.Signals[f"SIG{process.exit_signal[0]}"])
        except KeyError:
            pass
    return 255


def _lost_words(why: str) -> str:
    """`SSHTransport.lost()`'s reason as the words of a lost connection ("closed" alone says nothing)."""
    return why if why != "closed" else "connection lost: it closed as a command started"


def _classify(name: str, exc: BaseException, address: str = "") -> TransportError:
    where = f" {address}" if address else ""
    if isinstance(exc, ConnectionRefusedError):
        return TransportError(ErrorKind.UNREACHABLE, name, f"connection refused by{where or ' host'} (is sshd running?)")
    if isinstance(exc, socket.gaierror):
        return TransportError(ErrorKind.UNREACHABLE, name, f"cannot resolve{where}: {exc.strerror}")
    if isinstance(exc, asyncssh.PermissionDenied):
        return TransportError(ErrorKind.AUTH, name, f"the host refused our keys ({exc.reason or 'permission denied'})")
    if isinstance(exc, asyncssh.ConnectionLost):
        if "not responding to keepalive" in (exc.reason or ""):  # asyncssh's words for it
            return TransportError(ErrorKind.UNREACHABLE, name, f"connection lost: no answer to keepalives for "
                                                               f"{SILENCE_LIMIT:g}s (host down or network gone)")
        return TransportError(ErrorKind.UNREACHABLE, name, f"connection lost: {exc.reason or exc}")
    if isinstance(exc, asyncssh.ChannelOpenError):
        return TransportError(ErrorKind.ERROR, name, f"the host refused a session channel: {exc.reason}")
    if isinstance(exc, asyncssh.DisconnectError):
        return TransportError(ErrorKind.UNREACHABLE, name, f"disconnected: {exc.reason or exc}")
    if isinstance(exc, OSError):
        return TransportError(ErrorKind.UNREACHABLE, name, f"cannot connect to{where or ' host'}: {exc.strerror or exc}")
    return TransportError(ErrorKind.ERROR, name, str(exc) or type(exc).__name__)
