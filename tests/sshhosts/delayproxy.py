"""A TCP proxy that adds latency: every byte arrives `--delay` seconds after it was sent.

The fallback for `tc qdisc … netem delay` where the kernel has no netem (testhosts.md): run it
inside a host's network namespace, in front of that host's sshd, and point a spec at its port.

    nsenter --net=/run/netns/HOST python3 -m tests.sshhosts.delayproxy \
        --listen 0.0.0.0:2022 --to 127.0.0.1:22 --delay 2

Each direction is a FIFO of (due time, chunk): order is kept and the delay does not add up
across chunks, as with a slow link rather than a slow reader. Runs until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import time


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def deliver() -> None:
        while True:
            due, chunk = await queue.get()
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            if not chunk:
                writer.write_eof() if writer.can_write_eof() else writer.close()
                return
            writer.write(chunk)
            await writer.drain()

    delivering = asyncio.create_task(deliver())
    try:
        while chunk := await reader.read(65536):
            queue.put_nowait((time.monotonic() + delay, chunk))
        queue.put_nowait((time.monotonic() + delay, b""))
        await delivering
    except (ConnectionError, OSError):
        delivering.cancel()


async def _serve(listen: tuple[str, int], to: tuple[str, int], delay: float) -> None:
    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection(*to)
        except OSError:
            client_w.close()
            return
        await asyncio.gather(_pipe(client_r, server_w, delay), _pipe(server_r, client_w, delay))
        for w in (client_w, server_w):
            w.close()

    server = await asyncio.start_server(handle, *listen, reuse_address=True)
    async with server:
        await server.serve_forever()


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", type=_address, required=True, help="ADDRESS:PORT to accept on")
    parser.add_argument("--to", type=_address, required=True, help="ADDRESS:PORT to forward to")
    parser.add_argument("--delay", type=float, required=True, help="seconds added in each direction")
    args = parser.parse_args()
    asyncio.run(_serve(args.listen, args.to, args.delay))


if __name__ == "__main__":
    main()
