"""Pure parsers for the Linux-only sections (/proc files, os-release, lscpu, virt hints).

Why /proc and not ``free``/``uptime``: /proc is written by the kernel in a fixed format
that no locale changes, whereas ``free`` headers and ``uptime``'s decimals are localised.
Each function takes a section's stdout lines and returns a value or raises FactMissing.
"""

from __future__ import annotations

import re

from .errors import FactMissing
from .models import CpuFacts, LoadFacts, SwapDeviceFacts, VirtualizationFacts
from .text import blank_fields, to_float, to_int, unescape_mount

KIB = 1024


def parse_os_release(lines: list[str]) -> dict[str, str]:
    """/etc/os-release → {ID, VERSION_ID, PRETTY_NAME, VERSION_CODENAME, ...}, unquoted."""
    out: dict[str, str] = {}
    for line in lines:
        key, found, value = line.strip().partition("=")
        if not found or not re.fullmatch(r"[A-Z0-9_]+", key):
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        out[key] = value
    if "ID" not in out and "NAME" not in out:
        raise FactMissing("os-release has no ID or NAME")
    return out


def parse_cpu(lines: list[str]) -> CpuFacts:
    """The ``cpu`` section: getconf/nproc counts, /proc/cpuinfo model lines, lscpu lines."""
    counts: dict[str, int] = {}
    cpuinfo: dict[str, str] = {}
    lscpu: dict[str, str] = {}
    for line in lines:
        if line.startswith("lscpu "):
            key, _, value = line[6:].partition(":")
            lscpu.setdefault(key.strip(), value.strip())
            continue
        key, found, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if not found or not value:
            continue
        if key in ("online", "usable", "processors"):
            n = to_int(value)
            if n is not None and n > 0:
                counts[key] = n
        else:
            cpuinfo.setdefault(key, value)
    # x86 has "model name"; ARM servers only get a name from lscpu (e.g. Neoverse-N1);
    # a Raspberry Pi's "Model" is the board, so it comes last.
    lscpu_model = lscpu.get("Model name") if lscpu.get("Model name") not in (None, "", "-") else None
    model = (cpuinfo.get("model name") or cpuinfo.get("cpu model") or lscpu_model
             or cpuinfo.get("Hardware") or cpuinfo.get("Model"))
    cores = counts.get("online") or counts.get("processors")
    if cores is None:
        raise FactMissing("no CPU count in getconf or /proc/cpuinfo output")
    sockets, per_socket = to_int(lscpu.get("Socket(s)")), to_int(lscpu.get("Core(s) per socket"))
    physical = sockets * per_socket if sockets and per_socket else None
    return CpuFacts(model=model, cores=cores, usable_cores=counts.get("usable"), physical_cores=physical)


def parse_loadavg(lines: list[str]) -> LoadFacts:
    """/proc/loadavg: ``0.22 0.09 0.02 3/93 4254``."""
    fields = blank_fields(" ".join(lines))
    vals = [v for v in (to_float(f) for f in fields[:3]) if v is not None]
    if len(vals) < 3:  # fewer than three fields, or one that is no number
        raise FactMissing("unparseable /proc/loadavg")
    return LoadFacts(load1=vals[0], load5=vals[1], load15=vals[2])


def parse_meminfo(lines: list[str]) -> dict[str, int]:
    """/proc/meminfo → bytes per key (``MemTotal: 24684096 kB``)."""
    out: dict[str, int] = {}
    for line in lines:
        m = re.match(r"^([A-Za-z0-9_()]+):\s+(\d+)(?:\s+kB)?\s*$", line)
        if m:
            n = int(m.group(2))
            out[m.group(1)] = n * KIB if line.rstrip().endswith("kB") else n
    return out


def parse_psi_some_avg10(lines: list[str]) -> float:
    """/proc/pressure/memory: ``some avg10=0.00 avg60=... total=0``."""
    for line in lines:
        if line.startswith("some "):
            m = re.search(r"\bavg10=(\S+)", line)
            val = to_float(m.group(1)) if m else None
            if val is not None:
                return val
    raise FactMissing("no 'some avg10' line in /proc/pressure/memory")


def parse_cgroup_limit(lines: list[str]) -> int | None:
    """``v2 max`` / ``v1 9223372036854771712`` → limit bytes, None when unlimited."""
    for line in lines:
        fields = blank_fields(line)
        if len(fields) == 2 and fields[0] in ("v1", "v2"):
            if fields[1] == "max":
                return None
            n = to_int(fields[1])
            if n is None:
                raise FactMissing(f"unparseable cgroup memory limit {fields[1]!r}")
            return None if n >= 1 << 60 else n  # v1 "unlimited" is ~2^63 rounded to pages
    raise FactMissing("no cgroup memory limit line")


def parse_swaps(lines: list[str]) -> list[SwapDeviceFacts]:
    """/proc/swaps (sizes in KiB); the header line is skipped by shape, not by text."""
    out: list[SwapDeviceFacts] = []
    for line in lines:
        f = blank_fields(line)
        if len(f) >= 4 and to_int(f[2]) is not None and to_int(f[3]) is not None:
            out.append(SwapDeviceFacts(
                path=unescape_mount(f[0]), type=f[1], size_bytes=int(f[2]) * KIB,
                used_bytes=int(f[3]) * KIB, priority=to_int(f[4]) if len(f) > 4 else None,
            ))
    return out


def parse_single_int(lines: list[str], what: str) -> int:
    values = [v for v in (to_int(line) for line in lines if line.strip()) if v is not None]
    if not values:
        raise FactMissing(f"no integer in {what}")
    return values[0]


def parse_proc_mounts(lines: list[str]) -> dict[str, str]:
    """/proc/mounts → {mount point: fstype}; the last mount on a path wins (it shadows)."""
    out: dict[str, str] = {}
    for line in lines:
        f = blank_fields(line)
        if len(f) >= 3 and f[1].startswith("/"):
            out[unescape_mount(f[1])] = f[2]
    return out


def parse_init(lines: list[str]) -> str:
    for line in lines:
        line = line.strip()
        if line == "systemd":
            return "systemd"
        if line.startswith("pid1 ") and line[5:].strip():
            return line[5:].strip()
    raise FactMissing("pid 1 name not readable")


_CGROUP_HINTS = (("kubepods", "kubernetes"), ("docker", "docker"), ("libpod", "podman"),
                 ("lxc", "lxc"), ("containerd", "containerd"))


def parse_virt(lines: list[str]) -> VirtualizationFacts:
    """systemd-detect-virt answers first; file and cgroup hints fill in without it."""
    vm: str | None = None
    container: str | None = None
    hints: list[str] = []
    kv: dict[str, list[str]] = {}
    for line in lines:
        key, found, value = line.partition(":")
        if found:
            kv.setdefault(key.strip(), []).append(value.strip())
    for value in kv.get("detect-virt-vm", []):
        if value and value != "none":
            vm = value
            hints.append(f"systemd-detect-virt --vm: {value}")
    for value in kv.get("detect-virt-container", []):
        if value and value != "none":
            container = value
            hints.append(f"systemd-detect-virt --container: {value}")
    if "dockerenv" in kv:
        hints.append("/.dockerenv exists")
        container = container or "docker"
    if "containerenv" in kv:
        hints.append("/run/.containerenv exists")
        container = container or "podman"
    if "wsl" in kv:
        hints.append("kernel release mentions Microsoft")
        vm = vm or "wsl"
    for cg in kv.get("cgroup", []):
        for needle, tech in _CGROUP_HINTS:
            if needle in cg:
                hints.append(f"/proc/1/cgroup mentions {needle}")
                container = container or tech
                break
    if "cpu-flag" in kv:
        hints.append("CPU has the hypervisor flag")
        vm = vm or "unknown-hypervisor"
    for product in kv.get("dmi-product", []):
        hints.append(f"DMI product: {product}")
    return VirtualizationFacts(vm=vm, container=container, hints=list(dict.fromkeys(hints)))
