"""A host's observation as every front end shows it: table-sized renderings of its facts (RAM
used/total, GPU, disk), shared by `axis facts`, `axis status`, `axis get hosts -o wide` and the
API, and the cluster totals over every host's newest facts."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from axis.app.documents import ClusterTotals, Observation
from axis.app.timefmt import age, iso
from axis.drivers.facts import Facts
from axis.placement.candidates import enforcement_in_force
from axis.specs.units import human_size
from axis.state.snapshot import FactsRow, Snapshot


def _used_total(used: int | None, total: int | None) -> str:
    if total is None:
        return "-"
    return f"{human_size(used)}/{human_size(total)}"


def os_label(f: Facts) -> str:
    if f.os is None:
        return "-"
    name = f.os.distro or f.os.family
    return f"{name} {f.os.distro_version}" if f.os.distro_version else name


def summary(f: Facts, *, spec_sudo: bool | None = None) -> dict[str, str]:
    """The columns pool's `list` showed, plus pressure, cores and the memory cap's enforcement:
    what `axis exec` really gets under the Host's spec (`spec_sudo`; None: no spec applies, as
    for `axis facts` on this machine)."""
    mem = f.memory
    gpu = "-"
    if f.gpus:
        g = f.gpus[0]
        util = f" {g.utilization_percent:.0f}%" if g.utilization_percent is not None else ""
        gpu = f"{len(f.gpus)}x {g.name}{util}" if len(f.gpus) > 1 else f"{g.name}{util}"
    enforcement = f.memory_enforcement
    mode: str | None
    mode, reason = (enforcement.mode, enforcement.reason) if enforcement else (None, "")
    if spec_sudo is not None:
        mode, reason = enforcement_in_force(mode, reason, login_is_root=f.sudo.is_root if f.sudo else None,
                                            spec_sudo=spec_sudo)
    sudo = "-"
    if f.sudo is not None:
        sudo = "root" if f.sudo.is_root else {True: "yes", False: "password", None: "no"}[f.sudo.passwordless]
    return {
        "os": os_label(f),
        "cores": str(f.cpu.cores) if f.cpu else "-",
        "load": f"{f.load.load1:.2f}" if f.load else "-",
        "ram": _used_total(mem.total_bytes - mem.available_bytes, mem.total_bytes) if mem else "-",
        "pressure": mem.pressure if mem else "-",
        "gpu": gpu,
        "disk": _used_total(f.root_disk.used_bytes, f.root_disk.size_bytes) if f.root_disk else "-",
        "sudo": sudo,
        # how `axis exec` caps a job's memory here, and why not better
        "memoryEnforcement": f"{mode} ({reason})" if mode else "-",
    }


def load_facts(data: dict[str, Any] | None) -> Facts | None:
    """Stored facts back as the model; None when a pass carried none (unreachable) and when
    another axis version stored them in a shape this one does not read: that host shows no
    numbers, the others theirs."""
    try:
        return Facts.model_validate(data) if data else None
    except ValidationError:
        return None


def observed_view(snap: Snapshot, name: str, record: FactsRow | None, now: float, *,
                  spec_sudo: bool) -> Observation:
    """A host's latest observation, with the numbers from the newest pass that carried facts:
    an unreachable host still shows what it looked like, and `age`/`factsAt` say how old that is.
    `spec_sudo`: the Host's `spec.sudo` (what `axis exec` may use there)."""
    good = record if record is not None and record.data else snap.latest_facts_with_data(name)
    parsed = load_facts(good.data) if good is not None else None
    return {
        "name": name,
        "status": record.status if record else "unknown",
        "reason": (record.reason if record else "never observed") or None,
        "observedAt": iso(record.collected_at) if record else None,
        "age": age(record.collected_at, now) if record else "-",
        "factsAt": iso(good.collected_at) if good else None,
        "summary": summary(parsed, spec_sudo=spec_sudo) if parsed else {},
        "facts": good.data if good else None,
    }


def cluster_totals(rows: list[Observation]) -> ClusterTotals:
    """Hosts, reachable hosts, cores, memory and GPUs over `observed_view` rows that carry facts."""
    live = [r for r in rows if r["status"] in ("complete", "partial") and r["facts"]]
    facts = [load_facts(r["facts"]) for r in live]
    return {
        "hosts": len(rows),
        "reachable": len(live),
        "cores": sum(f.cpu.cores for f in facts if f and f.cpu),
        "memoryTotalBytes": sum(f.memory.total_bytes for f in facts if f and f.memory),
        "memoryAvailableBytes": sum(f.memory.available_bytes for f in facts if f and f.memory),
        "gpus": sum(len(f.gpus) for f in facts if f),
    }
