"""Golden tests: each fixture parses to its reviewed JSON, and what each real capture shows."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from axis.drivers.facts import Facts
from axis.drivers.facts.parse_common import parse_df
from axis.drivers.facts.parse_linux import parse_proc_mounts
from tests.factskit import FIXTURES, GOLDEN_NAMES, Z440_LSPCI, boundary_of, golden_facts, load, parse, section, split
from tests.fixtures.facts.capture import golden_json

AT = datetime(2024, 5, 1, 12, tzinfo=UTC)


def _parse(name: str) -> Facts:
    return parse((FIXTURES / f"{name}.txt").read_text(), collected_at=AT)


def test_all_required_fixtures_present() -> None:
    assert {"debian12", "ubuntu-24.04-h200-vm", "debian12-sshd-only", "macos-14-arm",
            "minimal-missing-tools", "locale-de-leaked"} <= set(GOLDEN_NAMES)


@pytest.mark.parametrize("name", GOLDEN_NAMES)
def test_golden(name: str) -> None:
    expected = golden_facts(name)
    assert _parse(name).model_dump(mode="json") == expected


@pytest.mark.parametrize("name", GOLDEN_NAMES)
def test_golden_file_is_laid_out_as_the_regenerate_switch_writes_it(name: str) -> None:
    """`capture --expected-only` on an unchanged parser gives no diff: a golden file's diff after
    it shows changed facts only, never layout (README: Regenerating)."""
    text = (FIXTURES / f"{name}.expected.json").read_text()
    assert text == golden_json(json.loads(text)) + "\n"


@pytest.mark.parametrize("name", GOLDEN_NAMES)
def test_round_trip_through_json(name: str) -> None:
    facts = _parse(name)
    again = Facts.model_validate(json.loads(json.dumps(facts.model_dump(mode="json"))))
    assert again == facts


def test_gpu_vm_under_load() -> None:
    """The real capture on a lent H200 VM (README): the GPU busy, a swap file, and mounts that
    are no disks of the host: a tmpfs at a path with a space, an overlay, ext4 on a loop device."""
    f = _parse("ubuntu-24.04-h200-vm")
    assert [(g.name, g.memory_total_bytes, g.memory_used_bytes, g.utilization_percent, g.source)
            for g in f.gpus] == [("NVIDIA H200", 143771 * 2**20, 1139 * 2**20, 100.0, "nvidia-smi")]
    out = split(load("ubuntu-24.04-h200-vm"))
    fstypes = parse_proc_mounts(out.sections["mounts"].lines)  # the kernel wrote "/mnt/scratch\\040disk"
    assert (fstypes["/mnt/scratch disk"], fstypes["/var/lib/ovl/merged"], fstypes["/srv/data"]) == (
        "tmpfs", "overlay", "ext4")
    assert {d.mount: d.device for d in parse_df(out.sections["df"].lines)}["/mnt/scratch disk"] == "tmpfs"
    assert [d.mount for d in f.disks] == ["/"]  # none of the three is a disk of the host (is_real_disk)
    assert [(s.path, s.type, s.size_bytes) for s in f.swaps] == [("/swapfile", "file", 1048572 * 1024)]
    assert f.init_system == "process_api" and not f.has_systemd
    assert (f.sudo.is_root, f.sudo.passwordless, f.sudo.detail) == (False, None, "sudo not found")
    assert f.status == "complete" and f.missing == {"addresses": "neither ip nor ifconfig found"}


def _with_section(output: str, name: str, stdout: str, rc: int = 0, stderr: tuple[str, ...] = ()) -> str:
    """``output`` with section ``name`` as a host that differs there would have printed it."""
    boundary = boundary_of(output)
    framed = section(boundary, name, stdout, rc, stderr)
    pattern = rf"^@@axis:{boundary}:section:{name}\n.*?^@@axis:{boundary}:end:{name} rc=\d+\n"
    changed, count = re.subn(pattern, lambda _: framed, output, flags=re.M | re.S)
    assert count == 1, name
    return changed


def test_nvidia_smi_answers_so_lspci_is_not_read() -> None:
    """The HP Z440's real `nvidia` row and `lspci` lines (README: Sources) in the H200 capture:
    nvidia-smi lists the GTX 960 only; the NVS 310 that lspci also shows is no compute GPU of
    the driver, and lspci counts only on a host without nvidia-smi."""
    text = _with_section(load("ubuntu-24.04-h200-vm"), "nvidia", "NVIDIA GeForce GTX 960, 2048, 0, 0")
    text = _with_section(text, "lspci", "\n".join(Z440_LSPCI))
    f = parse(text, collected_at=AT)
    assert [(g.name, g.memory_total_bytes, g.memory_used_bytes, g.utilization_percent, g.source)
            for g in f.gpus] == [("NVIDIA GeForce GTX 960", 2048 * 2**20, 0, 0.0, "nvidia-smi")]
    text = _with_section(text, "nvidia", "", 127, ("nvidia-smi not found",))
    assert [(g.name, g.source) for g in parse(text, collected_at=AT).gpus] == [
        ("NVIDIA Corporation GF119 [NVS 310]", "lspci"), ("NVIDIA Corporation GM206 [GeForce GTX 960]", "lspci")]


def test_psi_under_thrashing_beats_a_roomy_ratio() -> None:
    """The PSI cover letter's real thrashing lines (README: Sources) on the H200 capture, whose
    memory is 99% available: the worse signal wins."""
    text = _with_section(load("ubuntu-24.04-h200-vm"), "psi",
                         "some avg10=70.24 avg60=68.52 avg300=69.91 total=3559632828\n"
                         "full avg10=57.59 avg60=58.06 avg300=60.38 total=3300487258")
    f = parse(text, collected_at=AT)
    assert (f.memory.pressure, f.memory.psi_some_avg10) == ("high", 70.24)
    assert f.memory.pressure_reason.startswith("available 99.2% of total → none")


def test_sshd_only_host_is_complete_without_systemd_or_swap() -> None:
    """The real capture: a test host whose PID 1 is a shell running sshd (README)."""
    f = _parse("debian12-sshd-only")
    assert f.status == "complete"
    assert f.init_system == "sh" and not f.has_systemd  # no /run/systemd/system: pid1's comm
    assert f.virtualization.container == "container-other"
    assert f.swap.total_bytes == 0 and f.swaps == []
    # the only disk is /: not the machine's /dev/vda bind-mounted on /dev/console, no tmpfs
    assert [d.mount for d in f.disks] == ["/"]


def test_docker_container_without_psi_is_still_complete() -> None:
    """Built here from the real sshd-only capture, since no machine of this project runs one:
    what a Docker container without systemd-detect-virt shows instead (tini as PID 1,
    /.dockerenv, a kernel without PSI, a cgroup v2 memory limit)."""
    text = (FIXTURES / "debian12-sshd-only.txt").read_text()
    text = _with_section(text, "init", "pid1 tini")
    text = _with_section(text, "virt", "dockerenv: yes\ncgroup: 0::/")
    text = _with_section(text, "psi", "", 1, ("/proc/pressure/memory not readable",))
    text = _with_section(text, "cgroup_memory", "v2 2147483648")
    f = parse(text, collected_at=AT)
    assert f.status == "complete"
    assert f.init_system == "tini" and not f.has_systemd
    assert f.virtualization.container == "docker" and f.virtualization.vm is None
    assert f.memory.psi_some_avg10 is None
    assert f.missing["psi"] == "/proc/pressure/memory not readable (exit 1)"
    assert f.memory.cgroup_limit_bytes == 2 * 2**30


def test_a_leaked_german_locale_changes_nothing() -> None:
    """The real capture ran in a login whose LANG/LC_ALL/LC_NUMERIC were de_DE.UTF-8 (passed by
    SendEnv, accepted by sshd; the same login printed German df and sudo text, README): the
    script's own LC_ALL=C made every probe speak C, so not one byte of German reached the parser."""
    text = (FIXTURES / "locale-de-leaked.txt").read_text()
    assert text.isascii()  # "Dateisystem 1024-Blöcke ... Verfügbar" would not be
    out = split(text)
    assert out.sections["df_root"].lines[0].startswith("Filesystem ")
    assert any(line.startswith("lscpu Model name: ") for line in out.sections["cpu"].lines)
    f = parse(text, collected_at=AT)
    assert f.status == "complete" and f.missing == {"gpus": "nvidia-smi not found"}
    assert (f.sudo.user, f.sudo.passwordless, f.sudo.detail) == ("pw", False, "sudo: a password is required")
    assert f.cpu.physical_cores is not None  # lscpu's "Core(s) per socket", not "Kern(e) pro Sockel"
    assert f.load is not None and f.root_disk is not None and f.root_disk.size_bytes > 0


def test_minimal_host_is_partial_with_reasons() -> None:
    f = _parse("minimal-missing-tools")
    assert f.status == "partial"
    for fact in ("cpu", "memory", "root_disk"):
        assert f.missing[fact]
    assert f.missing["root_disk"] == "df: not found"
    assert f.os is not None and f.hostname == "vm"  # what did work is still reported


def test_gpu_and_tool_failures_never_make_a_host_partial() -> None:
    f = _parse("debian12")
    assert "gpus" in f.missing and f.status == "complete"


def test_mac_disks_are_the_sealed_root_and_the_data_volume() -> None:
    """The real `df -kP` of an Apple-silicon Mac (README: Sources): one APFS container on
    several rows, helper volumes, devfs, auto_home and two Xcode simulator images at 98%
    that are no disk of the host (a diskCleanup alarm on them would be noise)."""
    f = _parse("macos-14-arm")
    assert [(d.mount, d.device, d.fstype) for d in f.disks] == [
        ("/", "/dev/disk3s1s1", "apfs"), ("/System/Volumes/Data", "/dev/disk3s5", "apfs")]
    assert f.root_disk is not None and f.root_disk.size_bytes == 971350180 * 1024
    assert f.root_disk.available_bytes == 385080668 * 1024
