"""Golden tests: each fixture parses to its reviewed JSON, and what each real capture shows."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from axis.drivers.facts import Facts
from tests.factskit import boundary_of, parse, section, split

FIXTURES = Path(__file__).parent / "fixtures" / "facts"
NAMES = sorted(p.name[: -len(".expected.json")] for p in FIXTURES.glob("*.expected.json"))
AT = datetime(2024, 5, 1, 12, tzinfo=UTC)


def _parse(name: str) -> Facts:
    return parse((FIXTURES / f"{name}.txt").read_text(), collected_at=AT)


def test_all_required_fixtures_present() -> None:
    assert {"debian12", "ubuntu-22.04-gpu", "debian12-sshd-only", "macos-14-arm",
            "minimal-missing-tools", "locale-de-leaked"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_golden(name: str) -> None:
    expected = json.loads((FIXTURES / f"{name}.expected.json").read_text())
    assert _parse(name).model_dump(mode="json") == expected


@pytest.mark.parametrize("name", NAMES)
def test_round_trip_through_json(name: str) -> None:
    facts = _parse(name)
    again = Facts.model_validate(json.loads(json.dumps(facts.model_dump(mode="json"))))
    assert again == facts


def test_gpu_host_details() -> None:
    f = _parse("ubuntu-22.04-gpu")
    # the real HP Z440 (README: Sources): nvidia-smi lists the GTX 960 only; the NVS 310 that its
    # lspci also shows is no compute GPU of the driver, and lspci is read only without nvidia-smi
    assert [(g.name, g.memory_total_bytes, g.memory_used_bytes, g.utilization_percent, g.source)
            for g in f.gpus] == [("NVIDIA GeForce GTX 960", 2048 * 2**20, 0, 0.0, "nvidia-smi")]
    assert f.memory.pressure == "high"  # ratio (61% available) says none, PSI 70.24 says high: the worse wins
    assert "/snap/core20/2264" not in [d.mount for d in f.disks]
    assert f.status == "complete" and f.has_systemd


def _with_section(output: str, name: str, stdout: str, rc: int = 0, stderr: tuple[str, ...] = ()) -> str:
    """``output`` with section ``name`` as a host that differs there would have printed it."""
    boundary = boundary_of(output)
    framed = section(boundary, name, stdout, rc, stderr)
    pattern = rf"^@@axis:{boundary}:section:{name}\n.*?^@@axis:{boundary}:end:{name} rc=\d+\n"
    changed, count = re.subn(pattern, lambda _: framed, output, flags=re.M | re.S)
    assert count == 1, name
    return changed


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
