"""``parse_facts``: turn the facts script's output into a ``Facts`` model. Pure.

Every fact is read through ``FactBuilder.attempt`` (``builder.py``): a probe that is missing,
denied, truncated or garbled makes exactly its own fact absent, with a reason in
``Facts.missing``; it never raises. Memory, CPU, disks and GPUs are ``hardware.py``'s. Status is
``partial`` when a core fact (os, hostname, cpu, memory, root_disk) is missing — GPU,
tool, sudo and other probes never make a host partial, as in AXIS.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from . import hardware as hw
from . import parse_common as pc
from . import parse_linux as pl
from . import parse_macos as pm
from .builder import FactBuilder, lines_or_empty, need_sysctl
from .errors import FactMissing
from .models import Facts, LoadFacts, OsFacts, Status, SudoFacts, SwapFacts, VirtualizationFacts
from .parse_enforcement import parse_enforcement
from .parse_net import parse_addresses
from .script import SCRIPT_VERSION, marker_prefix
from .sections import ScriptOutput, split_lines, split_sections

CORE_FACTS: tuple[str, ...] = ("os", "hostname", "cpu", "memory", "root_disk")


def _family(kernel_name: str) -> str:
    return {"Linux": "linux", "Darwin": "macos"}.get(kernel_name, kernel_name.lower())


def _os(b: FactBuilder, uname: tuple[str, str, str, str | None], macos: bool) -> OsFacts:
    kname, release, arch, _ = uname
    facts = OsFacts(family=_family(kname), kernel_name=kname, kernel=release, arch=arch)
    if macos:
        kv = b.attempt("distro", lambda: pm.parse_sw_vers(b.lines("sw_vers")))
        if kv:
            facts.distro, facts.distro_version = "macos", kv.get("ProductVersion")
            facts.distro_name = f"{kv.get('ProductName', 'macOS')} {kv.get('ProductVersion')}"
            facts.distro_codename = kv.get("BuildVersion")
    else:
        rel = b.attempt("distro", lambda: pl.parse_os_release(b.lines("os_release")))
        if rel:
            facts.distro = rel.get("ID") or rel.get("NAME", "").lower() or None
            facts.distro_version = rel.get("VERSION_ID")
            facts.distro_name = rel.get("PRETTY_NAME") or rel.get("NAME")
            facts.distro_codename = rel.get("VERSION_CODENAME") or None
    return facts


def _sudo(b: FactBuilder, uid: int | None, user: str | None) -> SudoFacts:
    is_root = uid == 0
    sec = b.out.get("sudo")
    if sec is None or sec.rc is None:
        raise FactMissing("no complete 'sudo' section in the output")
    detail = next((e.strip() for e in reversed(sec.stderr) if e.strip()), None)
    if sec.rc == 0:
        return SudoFacts(is_root=is_root, passwordless=True, user=user, uid=uid)
    if sec.rc == 127:  # sudo absent: root does not need it, others cannot escalate
        return SudoFacts(is_root=is_root, passwordless=None, user=user, uid=uid, detail=detail)
    return SudoFacts(is_root=is_root, passwordless=False, user=user, uid=uid, detail=detail)


def parse_facts(output: str, boundary: str, *, stderr: str = "", collected_at: datetime | None = None) -> Facts:
    """Parse the output of the facts script run framed with ``boundary`` (``FactsScript``).

    ``stderr``: the script's own stderr (the probes' goes into their sections); when the output
    holds no header of this run, its last line is the reason every fact is missing (the script
    refuses to run where ``printf`` is no shell builtin, and says so there).
    Pure; never raises on any output string. A malformed ``boundary`` is the caller's bug and
    raises ``ValueError``.
    """
    marker_prefix(boundary)
    return facts_from(split_sections(output if isinstance(output, str) else "", boundary),
                      stderr=stderr, collected_at=collected_at)


def facts_from(out: ScriptOutput, *, stderr: str = "", collected_at: datetime | None = None) -> Facts:
    """`parse_facts` for output already split into sections (a converge pass also hands the
    sections to the feature drivers: the output is split once). Never raises."""
    at = collected_at or datetime.now(UTC)
    try:
        return _parse(out, at, stderr if isinstance(stderr, str) else "")
    except Exception as exc:  # noqa: BLE001 - last resort; the parsers above are total
        reason = f"parser failure ({type(exc).__name__}: {exc})"[:300]
        return Facts(status="partial", collected_at=at,
                     missing={fact: reason for fact in CORE_FACTS})


def _parse(out: ScriptOutput, collected_at: datetime, stderr: str) -> Facts:
    said = next((line.strip() for line in reversed(split_lines(stderr)) if line.strip()), "")[:300]
    b = FactBuilder(out, f"the facts script did not run: {said}" if out.version is None and said else "")
    notes: list[str] = []
    if out.version is None:
        notes.append("no facts header with this run's boundary: is this the facts script's output?"
                     + (f" (its stderr: {said})" if said else ""))
    elif out.version != SCRIPT_VERSION:
        notes.append(f"facts script version {out.version}, parser knows version {SCRIPT_VERSION}")
    if not out.done:
        notes.append("output ended before the 'done' marker (cut off or timed out)")

    uname = b.attempt("os", lambda: pc.parse_uname(b.lines("uname")))
    kname = uname[0] if uname else (out.os_hint or "")
    macos = kname == "Darwin"
    os_facts = b.attempt("os", lambda: _os(b, uname, macos)) if uname else None
    hostname = uname[3] if uname else None
    if not hostname:
        b.missing["hostname"] = "uname -n printed nothing" if uname else b.missing["os"]

    sysctl: dict[str, str] = {}
    if macos:
        sysctl = b.attempt("sysctl", lambda: pm.parse_sysctl(
            b.lines("sysctl", require_ok=False))) or {}
        per_os = _macos_facts(b, sysctl)
    else:
        per_os = _linux_facts(b)

    disks, root = hw.disks(b, macos)
    gpus = b.attempt("gpus_fallback", lambda: hw.gpus(b, macos, sysctl)) or []
    addresses = b.attempt("addresses", lambda: parse_addresses(b.lines("addresses"))) or []
    user_sec = out.get("user")
    uid, user = pc.parse_user(user_sec.lines) if user_sec else (None, None)
    sudo = b.attempt("sudo", lambda: _sudo(b, uid, user))
    enforcement = b.attempt("memory_enforcement", lambda: parse_enforcement(
        b.lines("memory_enforcement"), macos=macos, sudo=sudo))
    tools = b.attempt("tools", lambda: pc.parse_tools(b.lines("tools"))) or {}

    status: Status = "partial" if any(f in b.missing for f in CORE_FACTS) else "complete"
    return Facts(
        status=status, missing=dict(sorted(b.missing.items())), notes=notes,
        collected_at=collected_at, hostname=hostname, os=os_facts, disks=disks,
        root_disk=root, gpus=gpus, addresses=addresses, sudo=sudo, memory_enforcement=enforcement, tools=tools,
        section_status={n: s.rc for n, s in out.sections.items()}, **per_os,
    )


def _macos_facts(b: FactBuilder, sysctl: dict[str, str]) -> dict[str, Any]:
    """cpu, load, memory, swap, virtualisation and sleep settings from sysctl & co."""
    def load() -> LoadFacts:
        l1, l5, l15 = pm.parse_loadavg_sysctl(need_sysctl(sysctl, "vm.loadavg"))
        return LoadFacts(load1=l1, load5=l5, load15=l15)

    def swap() -> SwapFacts:
        total, used = pm.parse_swapusage(need_sysctl(sysctl, "vm.swapusage"))
        return SwapFacts(total_bytes=total, used_bytes=used)

    hv = pc.to_int(sysctl.get("kern.hv_vmm_present"))
    return {
        "cpu": b.attempt("cpu", lambda: hw.macos_cpu(sysctl)),
        "load": b.attempt("load", load),
        "memory": b.attempt("memory", lambda: hw.macos_memory(b, sysctl)),
        "swap": b.attempt("swap", swap),
        "init_system": "launchd",
        "virtualization": VirtualizationFacts(vm="apple-hypervisor" if hv else None,
                                              hints=["kern.hv_vmm_present: 1"] if hv else []),
        "sleep_settings": b.attempt("sleep_settings", lambda: pm.parse_pmset(b.lines("pmset"))),
    }


def _linux_facts(b: FactBuilder) -> dict[str, Any]:
    """cpu, load, memory/swap, swap devices, swappiness, init and virt from /proc & co."""
    mem_swap = b.attempt("memory", lambda: hw.linux_memory(b))
    memory, swap = mem_swap if mem_swap else (None, None)
    if memory is None:
        b.missing["swap"] = b.missing["memory"]
    return {
        "cpu": b.attempt("cpu", lambda: pl.parse_cpu(b.lines("cpu"))),
        "load": b.attempt("load", lambda: pl.parse_loadavg(b.lines("loadavg"))),
        "memory": memory,
        "swap": swap,
        "swaps": b.attempt("swaps", lambda: pl.parse_swaps(lines_or_empty(b, "swaps"))),
        "swappiness": b.attempt("swappiness", lambda: pl.parse_single_int(
            b.lines("swappiness"), "swappiness")),
        "init_system": b.attempt("init_system", lambda: pl.parse_init(b.lines("init"))),
        "virtualization": b.attempt("virtualization", lambda: pl.parse_virt(
            b.lines("virt", require_ok=False))),
    }


