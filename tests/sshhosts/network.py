"""Private network for a fleet: one bridge in the real netns, one `ip netns` + veth per host.

Each fleet number `net` owns bridge `axisbr<net>` with 10.77.<net>.1/24; host i gets
10.77.<net>.(10+i) on its `eth0`, so hosts are reached on port 22 like real machines. Nothing
here routes or NATs: hosts can talk to the machine over the bridge and to nothing else.
Callers must add hosts one at a time (`ip netns add` races when run in parallel).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from .system import run

PREFIX_LEN = 24


def bridge_name(net: int) -> str:
    return f"axisbr{net}"


def gateway(net: int) -> str:
    return f"10.77.{net}.1"


def host_address(net: int, index: int) -> str:
    """Address of host number `index` (1-based) in fleet network `net`."""
    if not 0 <= net <= 255 or not 1 <= index <= 244:
        raise ValueError(f"net must be 0..255 and host index 1..244, got {net}, {index}")
    return f"10.77.{net}.{10 + index}"


def veth_name(host: str) -> str:
    """Real-netns end of the host's veth; hashed because interface names stop at 15 chars."""
    return "axv" + hashlib.sha1(host.encode()).hexdigest()[:10]


def ensure_bridge(net: int) -> None:
    """Create and address the fleet's bridge unless it is already there."""
    bridge = bridge_name(net)
    if Path(f"/sys/class/net/{bridge}").exists():
        return
    run(["ip", "link", "add", "name", bridge, "type", "bridge"])
    run(["ip", "addr", "add", f"{gateway(net)}/{PREFIX_LEN}", "dev", bridge])
    run(["ip", "link", "set", bridge, "up"])


def add_host(host: str, net: int, address: str) -> None:
    """Netns named like the host, with eth0 = veth peer on the fleet bridge, lo up, and a
    default route via the bridge (so tools that look for one find it; nothing forwards)."""
    veth = veth_name(host)
    run(["ip", "netns", "add", host])
    run(["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", host])
    run(["ip", "link", "set", veth, "master", bridge_name(net), "up"])
    inside = ["ip", "-n", host]
    run([*inside, "addr", "add", f"{address}/{PREFIX_LEN}", "dev", "eth0"])
    run([*inside, "link", "set", "eth0", "up"])
    run([*inside, "link", "set", "lo", "up"])
    run([*inside, "route", "add", "default", "via", gateway(net)])


def set_link(host: str, *, up: bool) -> None:
    """Bring the bridge end of the host's veth up or down (idempotent)."""
    run(["ip", "link", "set", veth_name(host), "up" if up else "down"])


def remove_host(host: str) -> None:
    """Delete the host's netns and veth; a no-op for the parts already gone."""
    if Path(f"/run/netns/{host}").exists():
        run(["ip", "netns", "delete", host], check=False)
    if Path(f"/sys/class/net/{veth_name(host)}").exists():
        run(["ip", "link", "delete", veth_name(host)], check=False)


def remove_bridge(net: int) -> None:
    if Path(f"/sys/class/net/{bridge_name(net)}").exists():
        run(["ip", "link", "delete", bridge_name(net)], check=False)
