"""Pure parsers for sections both OSes share: uname, user/sudo, tools, df, GPUs.

Why df is parsed by row shape and not by header: the header is the one thing a leaked
locale translates ("Dateisystem 1K-Blöcke ..."), while the numeric columns never change.
"""

from __future__ import annotations

import re

from .errors import FactMissing
from .models import DiskFacts, GpuFacts
from .parse_macos import gpu_vendor
from .text import to_float, to_int

# "Filesystem 1024-blocks Used Available Capacity Mounted on"; the device may contain
# spaces ("map auto_home" on macOS), so the row is matched from the numbers outward.
#: Blanks are spaces and tabs only (``\s`` would take \x1c or U+2028 in a raw mount name for one).
_DF_ROW_RE = re.compile(r"^(.*?)[ \t]+(\d+)[ \t]+(\d+)[ \t]+(\d+)[ \t]+(\d+%|-)[ \t]+(/.*)$")

PSEUDO_FSTYPES = frozenset({
    "proc", "sysfs", "devtmpfs", "devpts", "tmpfs", "ramfs", "cgroup", "cgroup2",
    "securityfs", "pstore", "bpf", "tracefs", "debugfs", "configfs", "fusectl", "mqueue",
    "hugetlbfs", "autofs", "binfmt_misc", "rpc_pipefs", "nsfs", "squashfs", "efivarfs",
    "selinuxfs", "devfs", "nullfs", "overlay", "aufs", "fuse.lxcfs", "fuse.gvfsd-fuse",
    "fuse.portal", "fuse.snapfuse", "shm", "zram",
})
PSEUDO_DEVICES = frozenset({"none", "tmpfs", "devtmpfs", "udev", "overlay", "shm", "devfs",
                            "proc", "sysfs", "cgroup", "cgroup2"})
# Container runtimes bind single files over these; they are the host's disk, not a mount.
BIND_FILES = frozenset({"/etc/hosts", "/etc/hostname", "/etc/resolv.conf"})
PSEUDO_PREFIXES = ("/proc", "/sys", "/dev", "/run", "/snap/", "/var/lib/docker/",
                   "/var/lib/containers/", "/private/var/vm", "/Library/Developer/CoreSimulator")


def parse_uname(lines: list[str]) -> tuple[str, str, str, str | None]:
    """(kernel name, release, machine, nodename) from four ``uname`` lines."""
    vals = [line.strip() for line in lines if line.strip()]
    if len(vals) < 3:
        raise FactMissing("uname printed fewer than 3 lines")
    return vals[0], vals[1], vals[2], vals[3] if len(vals) > 3 else None


def parse_user(lines: list[str]) -> tuple[int | None, str | None]:
    uid = user = None
    for line in lines:
        key, _, value = line.partition(":")
        if key.strip() == "uid":
            uid = to_int(value)
        elif key.strip() == "user":
            user = value.strip() or None
    return uid, user


def parse_tools(lines: list[str], expected: list[str] | None = None) -> dict[str, str | None]:
    """``name<TAB>path`` (path empty when absent) → {name: path or None}."""
    out: dict[str, str | None] = {}
    for line in lines:
        name, found, path = line.partition("\t")
        if found and name.strip():
            out[name.strip()] = path.strip() or None
    if not out:
        raise FactMissing("tool probe printed nothing")
    for name in expected or ():
        out.setdefault(name, None)
    return out


def parse_df(lines: list[str]) -> list[DiskFacts]:
    """``df -kP`` rows (any header language) → DiskFacts without fstype."""
    out: list[DiskFacts] = []
    for line in lines:
        m = _DF_ROW_RE.match(line.rstrip())
        if not m:
            continue
        size, used, avail = (int(m.group(i)) * 1024 for i in (2, 3, 4))
        out.append(DiskFacts(mount=m.group(6), device=m.group(1).strip(), size_bytes=size,
                             used_bytes=used, available_bytes=avail))
    return out


def is_real_disk(disk: DiskFacts) -> bool:
    """Keep root and real mounts: no pseudo/tmpfs filesystems, no overlay layers other
    than /, no loop devices (for snap's squashfs loops; this also drops a file system mounted
    from an image file, which can fill up on its own: a known limit), no file bind mounts,
    no zero-sized filesystems."""
    if disk.mount == "/":
        return True
    if disk.fstype in PSEUDO_FSTYPES or disk.device in PSEUDO_DEVICES:
        return False
    if disk.device.startswith(("/dev/loop", "map ")) or disk.size_bytes == 0:
        return False
    if disk.mount in BIND_FILES:
        return False
    if disk.mount.startswith("/System/Volumes/") and disk.mount != "/System/Volumes/Data":
        return False  # macOS VM/Preboot/Update/xarts helper volumes
    return not any(disk.mount == p or disk.mount.startswith(p.rstrip("/") + "/")
                   for p in PSEUDO_PREFIXES)


def real_disks(disks: list[DiskFacts], fstypes: dict[str, str]) -> list[DiskFacts]:
    """Attach fstypes, filter to real disks, keep one row per mount point (the last)."""
    by_mount: dict[str, DiskFacts] = {}
    for d in disks:
        d = d.model_copy(update={"fstype": fstypes.get(d.mount, d.fstype)})
        if is_real_disk(d):
            by_mount[d.mount] = d
    return sorted(by_mount.values(), key=lambda d: (d.mount != "/", d.mount))


def _mib(text: str) -> int | None:
    n = to_float(text)
    return int(n * 1024 * 1024) if n is not None else None


def parse_nvidia(lines: list[str]) -> list[GpuFacts]:
    """``nvidia-smi --query-gpu=name,memory.total,memory.used,utilization.gpu
    --format=csv,noheader,nounits``: MiB and percent; ``[N/A]`` / ``[Not Supported]``
    become None."""
    out: list[GpuFacts] = []
    for line in lines:
        parts = [p.strip() for p in line.rsplit(",", 3)]
        if len(parts) != 4 or not parts[0]:
            continue
        total, used, util = _mib(parts[1]), _mib(parts[2]), to_float(parts[3])
        if total is None and used is None and util is None and not parts[1].startswith("["):
            continue  # not a data row (e.g. an error sentence containing commas)
        out.append(GpuFacts(name=parts[0], vendor="nvidia", memory_total_bytes=total,
                            memory_used_bytes=used, utilization_percent=util,
                            source="nvidia-smi"))
    if not out:
        msg = next((line.strip() for line in lines if line.strip()), "")
        raise FactMissing(msg or "nvidia-smi listed no GPU")
    return out


_LSPCI_RE = re.compile(r"^\S+\s+(VGA compatible controller|3D controller|Display controller)"
                       r"(?: \[[0-9a-f]{4}\])?:\s*(.*?)\s*(?:\(rev [0-9a-f]+\))?\s*$", re.I)


def parse_lspci(lines: list[str]) -> list[GpuFacts]:
    """NVIDIA and AMD display controllers from ``lspci``; BMC/virtual VGA adapters
    (ASPEED, Matrox, Cirrus, virtio) and Intel iGPUs are not compute GPUs."""
    out: list[GpuFacts] = []
    for line in lines:
        m = _LSPCI_RE.match(line.strip())
        if not m:
            continue
        desc = m.group(2)
        vendor = gpu_vendor(desc)
        if vendor not in ("nvidia", "amd"):
            continue
        out.append(GpuFacts(name=desc, vendor=vendor, source="lspci"))
    return out
