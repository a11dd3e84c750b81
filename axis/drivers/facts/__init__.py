"""Host facts for axis: one POSIX ``sh`` script per host per pass, parsed by pure functions.

Public API (other modules code against these names)::

    build_script(extra_tools=()) -> FactsScript  # .text, .boundary; ValueError on a bad tool name
    parse_facts(output, boundary, *, collected_at=None) -> Facts  # pure, never raises on output
    await collect_local(extra_tools=()) -> Facts  # run the same script on this machine
    FACTS_TOOLS                                   # tools always probed with `command -v`

Run ``script.text`` remotely as ``LC_ALL=C sh -s`` with the script on stdin and parse what it
printed with ``script.boundary``: every run has its own random boundary, so host data cannot
forge the section markers (``@@axis:B:section:NAME`` ... ``@@axis:B:end:NAME rc=N``, described
in ``script.py``). Build a new script for every run. The transport layer adds the
``unreachable``/``error`` statuses; this package only produces ``complete`` (all core facts)
or ``partial``.

``Facts`` fields (sizes are int bytes; None = unknown, with the reason in ``missing``):

* ``status``: "complete" | "partial" (a core fact — os, hostname, cpu, memory, root_disk —
  is missing); ``missing``: {fact: reason}; ``notes``: parser remarks;
  ``collected_at``; ``schema_version``; ``section_status``: {section: exit code}.
* ``hostname``; ``os``: OsFacts(family "linux"|"macos", kernel_name, kernel, arch,
  distro, distro_version, distro_name, distro_codename).
* ``cpu``: CpuFacts(model, cores [logical online], usable_cores, physical_cores);
  ``load``: LoadFacts(load1, load5, load15).
* ``memory``: MemoryFacts(total_bytes, available_bytes, available_source,
  pressure "none"|"low"|"medium"|"high", pressure_reason, psi_some_avg10,
  vm_pressure_level, page_size_bytes, cgroup_limit_bytes).
* ``swap``: SwapFacts(total_bytes, used_bytes); ``swaps``: [SwapDeviceFacts(path, type,
  size_bytes, used_bytes, priority)] (Linux); ``swappiness`` (Linux).
* ``disks``: [DiskFacts(mount, device, fstype, size_bytes, used_bytes, available_bytes)];
  ``root_disk``: the "/" entry.
* ``gpus``: [GpuFacts(name, vendor, memory_total_bytes, memory_used_bytes,
  utilization_percent, cores, source)].
* ``addresses``: [AddressFacts(interface, family "inet"|"inet6", address, prefix_len, scope)].
* ``init_system``: "systemd" | "launchd" | pid 1's name; ``virtualization``:
  VirtualizationFacts(vm, container, hints); ``sudo``: SudoFacts(is_root, passwordless,
  user, uid, detail); ``memory_enforcement``: MemoryEnforcementFacts(mode "cgroup"|"watchdog"|
  "none", reason) — how `axis exec` can cap a job's memory here; ``tools``: {name: path | None}; ``sleep_settings``: macOS
  ``pmset -g`` values, e.g. {"sleep": "1", "displaysleep": "10"}.
"""

from .assemble import CORE_FACTS, facts_from, parse_facts
from .local import collect_local
from .models import (AddressFacts, CpuFacts, DiskFacts, Facts, GpuFacts, LoadFacts,
                     MemoryEnforcementFacts, MemoryFacts, OsFacts, Pressure, SudoFacts, SwapDeviceFacts, SwapFacts,
                     VirtualizationFacts)
from .script import FACTS_TOOLS, FactsScript, build_script

__all__ = [
    "AddressFacts", "CORE_FACTS", "CpuFacts", "DiskFacts", "FACTS_TOOLS", "Facts", "FactsScript",
    "GpuFacts", "LoadFacts", "MemoryEnforcementFacts", "MemoryFacts", "OsFacts", "Pressure", "SudoFacts",
    "SwapDeviceFacts", "SwapFacts", "VirtualizationFacts", "build_script", "collect_local",
    "facts_from", "parse_facts",
]
