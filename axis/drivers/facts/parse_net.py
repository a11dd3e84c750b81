"""IP addresses from ``ip -o addr show`` (Linux) or ``ifconfig`` (macOS, old Linux).

Loopback is skipped: it never helps to reach a host. Link-local addresses are kept with
``scope="link"`` so callers can ignore them, since on some LANs they are all there is.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Literal

from .errors import FactMissing
from .models import AddressFacts

Family = Literal["inet", "inet6"]

_IP_O_RE = re.compile(
    r"^\d+:\s+(?P<iface>[^\s@]+)(?:@\S+)?\s+(?P<fam>inet6?)\s+(?P<addr>[^\s/]+)"
    r"(?:/(?P<plen>\d+))?(?P<rest>.*)$"
)


def _scope_of(addr: str) -> str | None:
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return None
    if ip.is_loopback:
        return "host"
    if ip.is_link_local:
        return "link"
    return "global"


def _is_loopback(iface: str, addr: str, scope: str | None) -> bool:
    return iface in ("lo", "lo0") or scope == "host" or _scope_of(addr) == "host"


def parse_ip_o(lines: list[str]) -> list[AddressFacts]:
    out: list[AddressFacts] = []
    for line in lines:
        m = _IP_O_RE.match(line.strip())
        if not m:
            continue
        scope_m = re.search(r"\bscope\s+(\S+)", m.group("rest"))
        scope = scope_m.group(1) if scope_m else _scope_of(m.group("addr"))
        if _is_loopback(m.group("iface"), m.group("addr"), scope):
            continue
        out.append(AddressFacts(
            interface=m.group("iface"), family=_family(m.group("fam")),
            address=m.group("addr"), prefix_len=int(m.group("plen")) if m.group("plen") else None,
            scope=scope,
        ))
    return out


def _family(text: str) -> Family:
    """`inet` or `inet6`, the two words `_IP_O_RE` matches, as the model's literal."""
    return "inet6" if text == "inet6" else "inet"


def _netmask_prefix(mask: str) -> int | None:
    try:
        if mask.lower().startswith("0x"):
            return bin(int(mask, 16)).count("1")
        return ipaddress.IPv4Network(f"0.0.0.0/{mask}").prefixlen
    except ValueError:
        return None


def parse_ifconfig(lines: list[str]) -> list[AddressFacts]:
    """macOS/BSD and both net-tools layouts (``inet 10.0.0.5  netmask ...`` and
    ``inet addr:10.0.0.5  Mask:...``)."""
    out: list[AddressFacts] = []
    iface = ""
    loopback_iface = False
    for line in lines:
        if line and not line[0].isspace():
            head = re.match(r"^([^\s:]+):?", line)
            iface = head.group(1) if head else ""
            loopback_iface = "LOOPBACK" in line or "Local Loopback" in line
            continue
        text = line.strip()
        m4 = re.match(r"^inet (?:addr:)?(\d+\.\d+\.\d+\.\d+)", text)
        m6 = re.match(r"^inet6 (?:addr:\s*)?([0-9a-fA-F:.]+)(?:%\S+)?(?:/(\d+))?", text)
        family: Family
        if m4:
            addr, family = m4.group(1), "inet"
            mask = re.search(r"(?:netmask|Mask:)\s*(\S+)", text)
            plen = _netmask_prefix(mask.group(1)) if mask else None
        elif m6:
            addr, family = m6.group(1), "inet6"
            pl = re.search(r"prefixlen (\d+)", text)
            plen = int(m6.group(2)) if m6.group(2) else (int(pl.group(1)) if pl else None)
        else:
            continue
        scope = _scope_of(addr)
        if loopback_iface or _is_loopback(iface, addr, scope):
            continue
        out.append(AddressFacts(interface=iface, family=family,
                                address=addr, prefix_len=plen, scope=scope))
    return out


def parse_addresses(lines: list[str]) -> list[AddressFacts]:
    """The Linux section starts with ``tool: ip`` or ``tool: ifconfig``; macOS sends
    plain ifconfig output."""
    body = lines
    tool = "ifconfig"
    if lines and lines[0].startswith("tool: "):
        tool, body = lines[0][6:].strip(), lines[1:]
    if not any(line.strip() for line in body):
        raise FactMissing(f"{tool} printed nothing")
    return parse_ip_o(body) if tool == "ip" else parse_ifconfig(body)
