"""Pure parsers for the macOS sections: sw_vers, sysctl, vm_stat, pmset, mount, displays.

The one that matters most: ``vm_stat`` counts pages, and its header states the page size
("page size of 16384 bytes" on Apple silicon, 4096 on Intel). The earlier tool assumed
4096 and under-reported available memory 4× on M-series Macs, so the page size is read
from the header and a missing header makes available memory absent rather than guessed.
"""

from __future__ import annotations

import re

from .errors import FactMissing
from .models import GpuFacts
from .text import key_values, size_with_unit, to_float, to_int

_PAGE_SIZE_RE = re.compile(r"page size of (\d+) bytes")


def parse_sw_vers(lines: list[str]) -> dict[str, str]:
    """``ProductName: macOS`` / ``ProductVersion: 14.4.1`` / ``BuildVersion: 23E224``."""
    kv = key_values(lines)
    if not kv.get("ProductVersion"):
        raise FactMissing("sw_vers printed no ProductVersion")
    return kv


def parse_sysctl(lines: list[str]) -> dict[str, str]:
    """``name: value`` lines (``name = value`` on older systems) → dict."""
    out: dict[str, str] = {}
    for line in lines:
        m = re.match(r"^([a-z][\w.]*)(?::\s*|\s+=\s+)(.*)$", line.strip())
        if m:
            out.setdefault(m.group(1), m.group(2).strip())
    return out


def parse_loadavg_sysctl(value: str) -> tuple[float, float, float]:
    """``{ 1.23 1.45 1.67 }`` → (1.23, 1.45, 1.67)."""
    nums = [n for n in (to_float(x) for x in value.strip("{} ").split()[:3]) if n is not None]
    if len(nums) < 3:  # fewer than three fields, or one of the first three that is no number
        raise FactMissing(f"unparseable vm.loadavg {value!r}")
    return nums[0], nums[1], nums[2]


def parse_swapusage(value: str) -> tuple[int, int]:
    """``total = 2048.00M  used = 1107.25M  free = 940.75M  (encrypted)`` → (total, used)."""
    parts = dict(re.findall(r"(total|used|free)\s*=\s*(\S+)", value))
    total = size_with_unit(parts.get("total", ""))
    used = size_with_unit(parts.get("used", ""))
    if total is None or used is None:
        raise FactMissing(f"unparseable vm.swapusage {value!r}")
    return total, used


def parse_vm_stat(lines: list[str]) -> tuple[int, dict[str, int]]:
    """Return (page size from the header, page counts by name)."""
    page_size: int | None = None
    counts: dict[str, int] = {}
    for line in lines:
        m = _PAGE_SIZE_RE.search(line)
        if m:
            page_size = int(m.group(1))
            continue
        key, found, value = line.rpartition(":")
        n = to_int(value.strip().rstrip("."))
        if found and n is not None:
            counts[key.strip().strip('"')] = n
    if page_size is None or page_size <= 0:
        raise FactMissing("vm_stat header has no 'page size of N bytes'")
    return page_size, counts


def vm_stat_available(page_size: int, counts: dict[str, int]) -> int:
    """Available memory as psutil computes it on macOS: (free + inactive) pages.

    vm_stat's "Pages free" already excludes speculative pages; inactive pages are the
    ones the kernel reclaims first. Purgeable pages sit inside these queues, so adding
    them would double count.
    """
    if "Pages free" not in counts or "Pages inactive" not in counts:
        raise FactMissing("vm_stat lacks 'Pages free' or 'Pages inactive'")
    return (counts["Pages free"] + counts["Pages inactive"]) * page_size


_PMSET_RE = re.compile(r"^\s+(\S.*?)\s+(\S+)(?:\s+\((.*)\))?\s*$")


def parse_pmset(lines: list[str]) -> dict[str, str]:
    """``pmset -g``: indented ``key value`` lines; keys may contain spaces
    ("Sleep On Power Button 1"); a trailing "(sleep prevented by ...)" is dropped."""
    out: dict[str, str] = {}
    for line in lines:
        m = _PMSET_RE.match(line)
        if m:
            out.setdefault(m.group(1), m.group(2))
    if not out:
        raise FactMissing("pmset -g printed no settings")
    return out


def parse_mount(lines: list[str]) -> dict[str, str]:
    """BSD ``mount``: ``/dev/disk3s1s1 on / (apfs, sealed, local, ...)`` → {mount: fstype}."""
    out: dict[str, str] = {}
    for line in lines:
        m = re.match(r"^(.*?) on (/.*?) \(([^,)]+)", line)
        if m:
            out[m.group(2)] = m.group(3).strip()
    return out


_VENDOR_RE = re.compile(r"\b(nvidia|apple|amd|ati|advanced micro devices|intel)\b", re.I)


def gpu_vendor(text: str) -> str:
    """Normalise a vendor string: "Apple (0x106b)" → "apple", "[AMD/ATI]" → "amd".
    Whole words only: "Intel Corporation" must not match "ati" inside "Corporation"."""
    m = _VENDOR_RE.search(text)
    if m:
        word = m.group(1).lower()
        return "amd" if word in ("ati", "advanced micro devices") else word
    return re.sub(r"\s*\(0x[0-9a-f]+\)", "", text.lower()).strip() or "unknown"


def _vram_bytes(value: str) -> int | None:
    m = re.match(r"^(\d+)\s*(MB|GB)$", value.strip())
    if not m:
        return None
    return int(m.group(1)) * (1024**2 if m.group(2) == "MB" else 1024**3)


def parse_displays(lines: list[str]) -> list[GpuFacts]:
    """``system_profiler SPDisplaysDataType``: one GPU per "Chipset Model:" line; the
    keys at the same indentation below it belong to it (deeper ones are displays)."""
    gpus: list[dict[str, str]] = []
    indent = -1
    for line in lines:
        stripped = line.strip()
        key, found, value = stripped.partition(":")
        if not found:
            continue
        depth = len(line) - len(line.lstrip())
        if key == "Chipset Model" and value.strip():
            gpus.append({"Chipset Model": value.strip()})
            indent = depth
        elif gpus and depth == indent and value.strip():
            gpus[-1].setdefault(key, value.strip())
    out: list[GpuFacts] = []
    for g in gpus:
        vram = next((v for k, v in g.items() if k.startswith("VRAM")), "")
        out.append(GpuFacts(
            name=g["Chipset Model"], vendor=gpu_vendor(g.get("Vendor", g["Chipset Model"])),
            memory_total_bytes=_vram_bytes(vram), cores=to_int(g.get("Total Number of Cores")),
            source="system_profiler",
        ))
    return out
