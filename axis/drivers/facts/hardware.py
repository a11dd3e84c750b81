"""Memory, CPU, disks and GPUs of a facts run, each from its sections (Linux and macOS). Pure."""

from __future__ import annotations

from . import parse_common as pc
from . import parse_linux as pl
from . import parse_macos as pm
from .builder import FactBuilder
from .errors import FactMissing
from .models import CpuFacts, DiskFacts, GpuFacts, MemoryFacts, SwapFacts
from .pressure import memory_pressure


def linux_memory(b: FactBuilder) -> tuple[MemoryFacts, SwapFacts | None]:
    mi = pl.parse_meminfo(b.lines("meminfo"))
    total = mi.get("MemTotal")
    if not total:
        raise FactMissing("/proc/meminfo has no MemTotal")
    source = "MemAvailable" if "MemAvailable" in mi else "MemFree"
    if source not in mi:
        raise FactMissing("/proc/meminfo has neither MemAvailable nor MemFree")
    avail = mi[source]
    psi = b.attempt("psi", lambda: pl.parse_psi_some_avg10(b.lines("psi")))
    limit = None
    if "cgroup_memory" in b.out.sections:
        try:
            limit = pl.parse_cgroup_limit(b.lines("cgroup_memory"))
        except Exception:  # noqa: BLE001 - a hint only; None means unlimited/unknown
            limit = None
    pressure, reason = memory_pressure(avail, total, psi_avg10=psi)
    mem = MemoryFacts(total_bytes=total, available_bytes=avail, available_source=source,
                      pressure=pressure, pressure_reason=reason, psi_some_avg10=psi,
                      cgroup_limit_bytes=limit)
    swap = None
    if "SwapTotal" in mi and "SwapFree" in mi:
        swap = SwapFacts(total_bytes=mi["SwapTotal"],
                         used_bytes=max(0, mi["SwapTotal"] - mi["SwapFree"]))
    return mem, swap


def macos_memory(b: FactBuilder, sysctl: dict[str, str]) -> MemoryFacts:
    total = pc.to_int(sysctl.get("hw.memsize"))
    if not total:
        raise FactMissing("sysctl hw.memsize missing")
    page_size, counts = pm.parse_vm_stat(b.lines("vm_stat"))
    avail = pm.vm_stat_available(page_size, counts)
    level = pc.to_int(sysctl.get("kern.memorystatus_vm_pressure_level"))
    pressure, reason = memory_pressure(avail, total, vm_level=level)
    return MemoryFacts(total_bytes=total, available_bytes=avail,
                       available_source="vm_stat free+inactive pages", pressure=pressure,
                       pressure_reason=reason, vm_pressure_level=level,
                       page_size_bytes=page_size)


def macos_cpu(sysctl: dict[str, str]) -> CpuFacts:
    cores = pc.to_int(sysctl.get("hw.ncpu"))
    if not cores:
        raise FactMissing("sysctl hw.ncpu missing")
    return CpuFacts(model=sysctl.get("machdep.cpu.brand_string") or None, cores=cores,
                    physical_cores=pc.to_int(sysctl.get("hw.physicalcpu")))


def disks(b: FactBuilder, macos: bool) -> tuple[list[DiskFacts], DiskFacts | None]:
    fstypes: dict[str, str] = {}
    if "mounts" in b.out.sections:
        parse = pm.parse_mount if macos else pl.parse_proc_mounts
        fstypes = b.attempt("mounts", lambda: parse(b.lines("mounts"))) or {}
    root = b.attempt("root_disk", lambda: _root_disk(b, fstypes))
    disks = b.attempt("disks", lambda: pc.real_disks(pc.parse_df(b.lines("df")), fstypes))
    if disks is None:
        return ([root] if root else []), root
    if root and not any(d.mount == "/" for d in disks):
        disks.insert(0, root)
    return disks, root


def _root_disk(b: FactBuilder, fstypes: dict[str, str]) -> DiskFacts:
    rows = [d for d in pc.parse_df(b.lines("df_root")) if d.mount == "/"]
    if not rows:
        raise FactMissing("df -kP / printed no row for /")
    return rows[-1].model_copy(update={"fstype": fstypes.get("/")})


def gpus(b: FactBuilder, macos: bool, sysctl: dict[str, str]) -> list[GpuFacts]:
    if macos:
        gpus = b.attempt("gpus", lambda: pm.parse_displays(b.lines("displays")))
        brand = sysctl.get("machdep.cpu.brand_string", "")
        if not gpus and brand.startswith("Apple"):  # Apple silicon always has its GPU
            b.missing.pop("gpus", None)
            return [GpuFacts(name=brand, vendor="apple", source="sysctl")]
        return gpus or []
    nvidia = b.attempt("gpus", lambda: pc.parse_nvidia(_nvidia_lines(b)))
    if nvidia:
        return nvidia
    lspci = b.out.get("lspci")
    others = pc.parse_lspci(lspci.lines) if lspci else []
    if others:
        reason = b.missing.pop("gpus", "nvidia-smi gave no data")
        b.missing["gpu_memory"] = f"{reason}; GPUs seen by lspci only"
    return others


def _nvidia_lines(b: FactBuilder) -> list[str]:
    sec = b.out.get("nvidia")
    if sec is None:
        raise FactMissing("no 'nvidia' section in the output")
    if not sec.ok:
        # nvidia-smi prints its failures ("couldn't communicate with the NVIDIA driver")
        # on stdout, not stderr.
        msg = next((line.strip() for line in sec.lines if line.strip()), "")
        raise FactMissing(f"{msg} (exit {sec.rc})" if msg and sec.rc else sec.reason())
    return sec.lines
