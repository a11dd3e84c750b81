"""The facts fixtures are what the current script prints (issue 24, T1b section 4): framed
with a boundary, their sections in the script's order, the CPU lines in the order the script
prints them, every fixture's provenance in the README, and each golden file's sizes equal to
the raw KiB figures of its capture (so a golden file rewritten by `capture --expected` is still
checked against the text, not only against the parser that wrote it)."""

from __future__ import annotations

import re

import pytest

from axis.drivers.facts import build_script
from axis.drivers.facts.script import SCRIPT_VERSION
from tests.factskit import FIXTURES, GOLDEN_NAMES, boundary_of, golden_facts, split

NAMES = sorted(p.stem for p in FIXTURES.glob("*.txt"))


def script_order(darwin: bool) -> list[str]:
    """The sections the script prints on macOS or on Linux, in its order (from its text)."""
    text = build_script().text
    body = text[text.index('_axis_section uname'):]
    common, rest = body.split('if [ "$_axis_os" = Darwin ]; then', 1)
    mac, linux = rest.split("\nelse\n", 1)
    linux = linux.split("\nfi\n", 1)[0]

    def names(part: str) -> list[str]:
        return re.findall(r"^\s*_axis_section (\S+)", part, re.MULTILINE)
    return names(common) + names(mac if darwin else linux)


def test_the_order_is_read_from_the_script() -> None:
    linux, mac = script_order(False), script_order(True)
    assert linux[:7] == mac[:7] == ["uname", "user", "sudo", "memory_enforcement", "tools", "df_root", "df"]
    assert "meminfo" in linux and "vm_stat" not in linux and "vm_stat" in mac and linux[-1] == "lspci"


@pytest.mark.parametrize("name", NAMES)
def test_each_fixture_is_a_whole_run_of_the_current_protocol(name: str) -> None:
    text = (FIXTURES / f"{name}.txt").read_text()
    out = split(text)
    assert out.version == SCRIPT_VERSION and out.done
    assert text.endswith(f"@@axis:{boundary_of(text)}:done\n")
    assert all(s.rc is not None for s in out.sections.values())


@pytest.mark.parametrize("name", NAMES)
def test_sections_are_in_the_scripts_order(name: str) -> None:
    out = split((FIXTURES / f"{name}.txt").read_text())
    assert list(out.sections) == script_order(out.os_hint == "Darwin")


@pytest.mark.parametrize("name", [n for n in NAMES if split((FIXTURES / f"{n}.txt").read_text()).os_hint == "Linux"])
def test_cpu_lines_are_in_the_scripts_order(name: str) -> None:
    """online, usable, the model lines, then `processors:` (one awk prints both), then lscpu."""
    cpu = split((FIXTURES / f"{name}.txt").read_text()).sections["cpu"]
    if not cpu.ok:
        return
    kinds = ["online" if ln.startswith("online:") else "usable" if ln.startswith("usable:")
             else "processors" if ln.startswith("processors:") else "lscpu" if ln.startswith("lscpu ")
             else "model" for ln in cpu.lines]
    order = ["online", "usable", "model", "processors", "lscpu"]
    assert kinds == sorted(kinds, key=order.index), cpu.lines
    assert kinds.count("processors") == 1


def test_the_readme_names_every_fixture_and_its_source() -> None:
    readme = (FIXTURES / "README.md").read_text()
    for name in NAMES:
        assert f"`{name}.txt`" in readme, name


def _kib(lines: list[str], key: str) -> int:
    return next(int(ln.split()[1]) for ln in lines if ln.startswith(key + ":")) * 1024


@pytest.mark.parametrize("name", GOLDEN_NAMES)
def test_golden_sizes_are_the_captures_raw_figures(name: str) -> None:
    expected = golden_facts(name)
    sections = split((FIXTURES / f"{name}.txt").read_text()).sections
    if expected["root_disk"] is not None:
        row = sections["df_root"].lines[-1].split()
        assert expected["root_disk"]["size_bytes"] == int(row[1]) * 1024
        assert expected["root_disk"]["available_bytes"] == int(row[3]) * 1024
    if "meminfo" in sections and expected["memory"] is not None:
        mem = sections["meminfo"].lines
        assert expected["memory"]["total_bytes"] == _kib(mem, "MemTotal")
        assert expected["swap"]["total_bytes"] == _kib(mem, "SwapTotal")
    if "uname" in sections and sections["uname"].ok:
        assert expected["hostname"] == sections["uname"].lines[3]
        assert expected["os"]["kernel"] == sections["uname"].lines[1]
