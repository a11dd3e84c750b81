"""The bundled examples name no IP address.

A user tries an example with `axis apply -f examples/...`: a converge then connects to every
address it names. A name such as `gpu-1.lan` resolves nowhere unless the user's network has it,
but a literal such as `10.0.40.21` is routable on someone's LAN and would be reached (an SSH
login attempt on a stranger's machine). So every file under examples/ is scanned for IPv4 and
IPv6 literals, loopback included (an example is copied, and a loopback port is someone's too).
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

#: Candidates only; `ipaddress` decides. Not glued to a word character, dot or colon on either side,
#: so `v1.2.3.4-rc` or a longer dotted number is no candidate but `[fd00::1]:22` and `@10.0.0.1:` are.
_IPV4 = re.compile(r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?![\w]|\.\d)")
_IPV6 = re.compile(r"(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:(?<=:)\d{1,3}(?:\.\d{1,3}){3})?"
                   r"(?:%[\w.]+)?(?![\w:]|\.\d)")


def ip_literals(text: str) -> list[str]:
    """Every IPv4 or IPv6 address literal in `text` (IPv6 with an embedded IPv4 or a zone too),
    in order; the IPv4 tail of an IPv6 literal is part of it, not a second address."""
    found: list[tuple[int, int, str]] = []
    for pattern, kind in ((_IPV6, ipaddress.IPv6Address), (_IPV4, ipaddress.IPv4Address)):
        for match in pattern.finditer(text):
            inside = any(start <= match.start() and match.end() <= end for start, end, _ in found)
            try:
                kind(match.group())
            except ValueError:
                continue
            if not inside:
                found.append((match.start(), match.end(), match.group()))
    return [ip for _, _, ip in sorted(found)]


@pytest.mark.parametrize("text, expected", [
    ("  address: 10.0.40.21\n", ["10.0.40.21"]),
    ("  address: 127.0.0.1  # loopback\n", ["127.0.0.1"]),
    ("ssh root@192.168.1.10:2222", ["192.168.1.10"]),
    ("  address: fd00:40::21\n", ["fd00:40::21"]),
    ("  address: '[2001:db8::1]'\n", ["2001:db8::1"]),
    ("  address: ::1\n", ["::1"]),
    ("  address: ::ffff:10.0.0.1\n", ["::ffff:10.0.0.1"]),
    ("  address: fe80::1%eth0\n", ["fe80::1%eth0"]),
    ("  address: 2001:0db8:0000:0000:0000:ff00:0042:8329\n", ["2001:0db8:0000:0000:0000:ff00:0042:8329"]),
    ("  address: gpu-1.lan\n  port: 2222\n", []),
    ("    swapfile: {size: 32G, swappiness: 10}\n", []),
    ("  schedule: '10:30:00'  # a time\n", []),
    ("version 1.2.3, build 1.2.3.4.5, 999.1.1.1", []),
    ("apiVersion: axis/v1\nkind: Host\n", []),
    ("reach it at fd00::21. Or at 10.1.2.3.", ["fd00::21", "10.1.2.3"]),
])
def test_ip_literals_finds_addresses_and_nothing_else(text: str, expected: list[str]) -> None:
    assert ip_literals(text) == expected


def test_examples_name_no_ip_address() -> None:
    files = sorted(p for p in EXAMPLES.rglob("*") if p.is_file())
    assert any(p.suffix in (".yaml", ".yml") for p in files), f"no examples found under {EXAMPLES}"
    found = [f"{p.relative_to(EXAMPLES.parent)}:{n}: {ip}" for p in files
             for n, line in enumerate(p.read_text(errors="replace").splitlines(), 1) for ip in ip_literals(line)]
    assert found == [], "examples must name hosts (gpu-1.lan), never an IP address a converge would reach"
