"""Golden tests: each captured or hand-built fixture parses to its hand-written JSON."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from axis.drivers.facts import Facts
from tests.factskit import parse

FIXTURES = Path(__file__).parent / "fixtures" / "facts"
NAMES = sorted(p.name[: -len(".expected.json")] for p in FIXTURES.glob("*.expected.json"))
AT = datetime(2024, 5, 1, 12, tzinfo=timezone.utc)


def _parse(name: str) -> Facts:
    return parse((FIXTURES / f"{name}.txt").read_text(), collected_at=AT)


def test_all_required_fixtures_present() -> None:
    assert {"debian12", "ubuntu-22.04-gpu", "container-no-systemd", "macos-14-arm",
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


def test_container_is_complete_without_systemd_psi_or_swap() -> None:
    f = _parse("container-no-systemd")
    assert f.status == "complete"
    assert f.init_system == "tini" and not f.has_systemd
    assert f.virtualization.container == "docker"
    assert f.memory.psi_some_avg10 is None and "psi" in f.missing
    assert f.swap.total_bytes == 0 and f.swaps == []
    assert [d.mount for d in f.disks] == ["/", "/data"]  # no /etc/hosts bind, no tmpfs


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
