"""Pydantic models for the facts of one host.

Why pydantic: facts are stored in the state DB and served over the HTTP API and MCP, so
they must round-trip through JSON exactly (``model_dump(mode="json")`` then
``Facts.model_validate``). All sizes are integer bytes; ``None`` always means "unknown",
and every unknown fact has a reason in ``Facts.missing``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Pressure = Literal["none", "low", "medium", "high"]
Status = Literal["complete", "partial"]
#: How a host caps a job's memory: a cgroup v2 limit set by systemd, axis's watchdog that samples
#: the job's process group, or not at all (axis/drivers/jobs).
EnforcementMode = Literal["cgroup", "watchdog", "none"]


class _Model(BaseModel):
    # extra="forbid" so a typo in a field name shows up in tests, not in production.
    model_config = ConfigDict(extra="forbid")


class OsFacts(_Model):
    """Operating system: ``family`` is "linux", "macos", or ``uname -s`` lower-cased."""

    family: str
    kernel_name: str  # uname -s: "Linux", "Darwin"
    kernel: str  # uname -r
    arch: str  # uname -m as printed: "x86_64", "aarch64", "arm64"
    distro: str | None = None  # os-release ID ("debian", "ubuntu") or "macos"
    distro_version: str | None = None  # VERSION_ID or ProductVersion
    distro_name: str | None = None  # PRETTY_NAME or "macOS 14.4.1"
    distro_codename: str | None = None  # VERSION_CODENAME or macOS BuildVersion


class CpuFacts(_Model):
    """CPU: ``cores`` counts logical CPUs online (what ``os.cpu_count()`` reports)."""

    model: str | None = None
    cores: int
    usable_cores: int | None = None  # nproc: affinity/cpuset-limited count
    physical_cores: int | None = None  # lscpu sockets × cores, or hw.physicalcpu


class LoadFacts(_Model):
    load1: float
    load5: float
    load15: float


class MemoryFacts(_Model):
    """Memory and its pressure on the AXIS scale (the worse of ratio and OS signal)."""

    total_bytes: int
    available_bytes: int
    # Where available_bytes came from: "MemAvailable", "MemFree" or
    # "vm_stat free+inactive+speculative".
    available_source: str
    pressure: Pressure
    pressure_reason: str  # e.g. "available 3.1% of total (<5%) → high; PSI some avg10 0.00 → none"
    psi_some_avg10: float | None = None  # Linux /proc/pressure/memory
    vm_pressure_level: int | None = None  # macOS kern.memorystatus_vm_pressure_level
    page_size_bytes: int | None = None  # macOS, from vm_stat's own header
    cgroup_limit_bytes: int | None = None  # Linux cgroup memory limit, None if unlimited


class SwapFacts(_Model):
    total_bytes: int
    used_bytes: int


class SwapDeviceFacts(_Model):
    """One line of Linux /proc/swaps (needed by the swapfile feature)."""

    path: str
    type: str  # "file" or "partition"
    size_bytes: int
    used_bytes: int
    priority: int | None = None


class DiskFacts(_Model):
    """A real mounted filesystem, from ``df -kP`` (+ fstype from the mount table)."""

    mount: str
    device: str
    fstype: str | None = None
    size_bytes: int
    used_bytes: int
    available_bytes: int


class GpuFacts(_Model):
    """A GPU. Memory is None when unknown (lspci) or unified (Apple silicon)."""

    name: str
    vendor: str  # "nvidia", "amd", "intel", "apple", or the vendor string lower-cased
    memory_total_bytes: int | None = None
    memory_used_bytes: int | None = None
    utilization_percent: float | None = None
    cores: int | None = None  # Apple: "Total Number of Cores"
    source: Literal["nvidia-smi", "lspci", "system_profiler", "sysctl"]


class AddressFacts(_Model):
    interface: str
    family: Literal["inet", "inet6"]
    address: str
    prefix_len: int | None = None
    scope: str | None = None  # "global", "link", ... (Linux `ip`; derived on macOS)


class VirtualizationFacts(_Model):
    """Virtualisation hints: ``vm``/``container`` name the technology, None if none seen."""

    vm: str | None = None
    container: str | None = None
    hints: list[str] = Field(default_factory=list)  # the evidence, e.g. "/.dockerenv exists"


class SudoFacts(_Model):
    """Whether privileged steps can run: root needs no sudo; else ``sudo -n true``."""

    is_root: bool
    passwordless: bool | None = None  # None: sudo absent or not probed
    user: str | None = None
    uid: int | None = None
    detail: str | None = None  # sudo's own message, e.g. "sudo: a password is required"


class MemoryEnforcementFacts(_Model):
    """How `axis exec` can cap a job's memory here, and why not better: `reason` names what is
    missing for a cgroup cap (and for the watchdog, when `mode` is "none")."""

    mode: EnforcementMode
    reason: str


class Facts(_Model):
    """Everything axis knows about one host after one facts pass."""

    schema_version: int = 1
    status: Status
    missing: dict[str, str] = Field(default_factory=dict)  # fact -> reason it is absent
    notes: list[str] = Field(default_factory=list)  # parser remarks (e.g. truncated output)
    collected_at: datetime
    hostname: str | None = None
    os: OsFacts | None = None
    cpu: CpuFacts | None = None
    load: LoadFacts | None = None
    memory: MemoryFacts | None = None
    swap: SwapFacts | None = None
    swaps: list[SwapDeviceFacts] | None = None  # Linux only
    swappiness: int | None = None  # Linux only
    disks: list[DiskFacts] = Field(default_factory=list)
    root_disk: DiskFacts | None = None
    gpus: list[GpuFacts] = Field(default_factory=list)
    addresses: list[AddressFacts] = Field(default_factory=list)
    init_system: str | None = None  # "systemd", "launchd", or pid 1's name
    virtualization: VirtualizationFacts | None = None
    sudo: SudoFacts | None = None
    memory_enforcement: MemoryEnforcementFacts | None = None
    tools: dict[str, str | None] = Field(default_factory=dict)  # name -> path or None
    sleep_settings: dict[str, str] | None = None  # macOS `pmset -g` "Currently in use"
    section_status: dict[str, int | None] = Field(default_factory=dict)  # section -> exit code

    @property
    def has_systemd(self) -> bool:
        return self.init_system == "systemd"
