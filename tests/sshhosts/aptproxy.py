"""A tiny HTTP proxy so test hosts can `apt-get install` for real without a route out.

The hosts have no route to the world; apt inside them is pointed at this proxy (on the bridge
gateway), which forwards plain-HTTP GET/HEAD requests only to the mirror hosts the machine's own
apt sources name, and answers 403 to anything else. One request per connection
(`Connection: close` upstream), which apt handles by reconnecting: simple and enough for tests.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from urllib.parse import urlsplit

from .base import _deb822_fields

_HEAD_LIMIT = 64 * 1024


def mirror_hosts(etc_apt: Path = Path("/etc/apt")) -> set[str]:
    """Host names of every http(s) URI in the machine's apt sources (one-line and deb822)."""
    hosts: set[str] = set()
    files = [etc_apt / "sources.list", *sorted((etc_apt / "sources.list.d").glob("*"))]
    for path in files:
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        uris: list[str] = []
        if path.suffix == ".sources":
            for stanza in text.split("\n\n"):
                uris += [v for k, v in _deb822_fields(stanza) if k.lower() == "uris" for v in v.split()]
        else:
            uris += [w for line in text.splitlines() if line.strip().startswith("deb")
                     for w in line.split() if "://" in w]
        hosts.update(urlsplit(u).hostname or "" for u in uris if u.startswith("http"))
    hosts.discard("")
    return hosts


class AptProxy:
    """Runs in a daemon thread with its own event loop; `stop()` closes it.

    `port` 0 (the default) listens on a port the kernel picks, read back into `self.port` by
    `start()`: a fixed one (apt-cacher-ng's 3142) may be taken by a real proxy on the machine."""

    def __init__(self, listen: str, allowed: set[str], port: int = 0):
        self.listen, self.port, self.allowed = listen, port, allowed
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.base_events.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name="apt-proxy", daemon=True)

    def start(self) -> AptProxy:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._handle, self.listen, self.port), self._loop)
        self._server = future.result(timeout=10)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._loop.call_soon_threadsafe(self._server.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            if len(head) > _HEAD_LIMIT:
                raise ValueError("request head too large")
            lines = head.decode("latin-1").split("\r\n")
            method, target, version = lines[0].split(" ", 2)
            url = urlsplit(target)
            if method not in ("GET", "HEAD") or url.scheme != "http" or url.hostname not in self.allowed:
                writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                return
            path = (url.path or "/") + (f"?{url.query}" if url.query else "")
            headers = [h for h in lines[1:] if h and not h.lower().startswith(("connection:", "proxy-", "keep-alive:"))]
            upstream_r, upstream_w = await asyncio.open_connection(url.hostname, url.port or 80)
            upstream_w.write(("\r\n".join([f"{method} {path} {version}", *headers, "Connection: close"])
                              + "\r\n\r\n").encode("latin-1"))
            await upstream_w.drain()
            while chunk := await upstream_r.read(1 << 16):
                writer.write(chunk)
                await writer.drain()
            upstream_w.close()
        except (OSError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()
