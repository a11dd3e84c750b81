"""Memory pressure on the AXIS scale, which axis keeps so placement ranks hosts the same way.

Ratio of available to total memory: < 5 % high, < 10 % medium, < 20 % low, else none.
The OS's own signal can only make it worse: Linux PSI ``some avg10`` ≥ 15 high, ≥ 5
medium, > 0 low; macOS ``kern.memorystatus_vm_pressure_level`` 4 high (critical),
2 medium (warn). The reason string records both inputs so `axis describe` can show it.
"""

from __future__ import annotations

from .models import Pressure

_ORDER: dict[str, int] = {"none": 0, "low": 1, "medium": 2, "high": 3}


def worse(a: Pressure, b: Pressure) -> Pressure:
    return a if _ORDER[a] >= _ORDER[b] else b


def ratio_pressure(available: int, total: int) -> Pressure:
    if total <= 0:
        return "high"
    ratio = available / total
    if ratio < 0.05:
        return "high"
    if ratio < 0.10:
        return "medium"
    if ratio < 0.20:
        return "low"
    return "none"


def psi_pressure(avg10: float) -> Pressure:
    if avg10 >= 15:
        return "high"
    if avg10 >= 5:
        return "medium"
    if avg10 > 0:
        return "low"
    return "none"


def macos_pressure(level: int) -> Pressure:
    if level >= 4:
        return "high"
    if level >= 2:
        return "medium"
    return "none"


def memory_pressure(
    available: int,
    total: int,
    *,
    psi_avg10: float | None = None,
    vm_level: int | None = None,
) -> tuple[Pressure, str]:
    """Return (pressure, reason) — the worse of the ratio and any OS signal."""
    pct = 100.0 * available / total if total > 0 else 0.0
    level = ratio_pressure(available, total)
    reasons = [f"available {pct:.1f}% of total → {level}"]
    if psi_avg10 is not None:
        p = psi_pressure(psi_avg10)
        reasons.append(f"PSI some avg10 {psi_avg10:.2f} → {p}")
        level = worse(level, p)
    if vm_level is not None:
        p = macos_pressure(vm_level)
        reasons.append(f"kern.memorystatus_vm_pressure_level {vm_level} → {p}")
        level = worse(level, p)
    return level, "; ".join(reasons)
