"""parse_facts never raises, whatever the host printed."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from axis.drivers.facts import Facts, parse_facts
from tests.factskit import boundary_of, parse

FIXTURES = Path(__file__).parent / "fixtures" / "facts"
SAMPLES = {p.stem: p.read_text() for p in FIXTURES.glob("*.txt")}
B = "b" * 32
#: examples are derived from the test's name (the same on every run): a failure reproduces
FUZZ = settings(max_examples=300, derandomize=True, deadline=None)
LINUX_SECTIONS = ["uname", "user", "sudo", "tools", "df_root", "df", "os_release", "cpu",
                  "loadavg", "meminfo", "psi", "cgroup_memory", "swaps", "swappiness", "mounts",
                  "addresses", "init", "virt", "nvidia", "lspci"]
MAC_SECTIONS = ["sw_vers", "sysctl", "vm_stat", "pmset", "displays"]

garbage_line = st.one_of(
    st.text(max_size=60),
    st.sampled_from(["MemTotal: x kB", "some avg10=nan", "online: -3", "hw.memsize: 1e9",
                     "Mach Virtual Memory Statistics: (page size of 0 bytes)", "a, b, c, d",
                     "1: lo inet 999.1.1.1/99 scope host", "/dev/x 1 2 3 4% /",
                     "Chipset Model:", "vm.swapusage: total = M", "v2 -1", "pid1 ",
                     "@@axis:end:meminfo rc=x", "@@axis:section:", "\x00\udcff", "uid: -1",
                     f"@@axis:{B}:end:meminfo rc=x", f"@@axis:{B}:section:", f"@@axis:{B}:done ",
                     f"@@axis:{B}:stderr:meminfo", f"@@axis:{'c' * 32}:end:meminfo rc=0"]),
)


def _check(facts: Facts) -> None:
    assert facts.status in ("complete", "partial")
    dumped = json.loads(json.dumps(facts.model_dump(mode="json")))
    assert Facts.model_validate(dumped) == facts
    for reason in facts.missing.values():
        assert isinstance(reason, str) and reason


@FUZZ
@given(st.text())
def test_arbitrary_text(text: str) -> None:
    _check(parse_facts(text, B))


@FUZZ
@given(
    os_name=st.sampled_from(["Linux", "Darwin", "", "FreeBSD"]),
    bodies=st.dictionaries(st.sampled_from(LINUX_SECTIONS + MAC_SECTIONS),
                           st.tuples(st.lists(garbage_line, max_size=6),
                                     st.one_of(st.none(), st.integers(-1, 255)))),
)
def test_well_framed_garbage(os_name: str, bodies: dict) -> None:
    parts = [f"@@axis:{B}:facts v=2 os={os_name}"]
    for name, (lines, rc) in bodies.items():
        parts.append(f"@@axis:{B}:section:{name}")
        parts.extend(lines)
        if rc is not None:
            parts.append(f"@@axis:{B}:end:{name} rc={rc}")
    facts = parse_facts("\n".join(parts), B)
    _check(facts)
    if "meminfo" not in bodies and "vm_stat" not in bodies:
        assert facts.status == "partial" and facts.missing["memory"]


@FUZZ
@given(name=st.sampled_from(sorted(SAMPLES)), data=st.data())
def test_fixture_cut_or_garbled_anywhere(name: str, data: st.DataObject) -> None:
    text = SAMPLES[name]
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))
    junk = data.draw(st.text(max_size=40))
    _check(parse_facts(text[:start] + junk + text[end:], boundary_of(text)))
    _check(parse_facts(text[:start], boundary_of(text)))


@settings(max_examples=200, derandomize=True, deadline=None)
@given(junk=st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
                     .filter(lambda s: "MemTotal" not in s and "@@axis" not in s), max_size=8))
def test_garbled_core_section_makes_host_partial_with_reason(junk: list[str]) -> None:
    text = SAMPLES["debian12"]
    m = f"@@axis:{boundary_of(text)}"
    head, rest = text.split(f"{m}:section:meminfo\n", 1)
    _, tail = rest.split(f"{m}:end:meminfo", 1)
    facts = parse(head + f"{m}:section:meminfo\n" + "\n".join(junk) + f"\n{m}:end:meminfo" + tail)
    _check(facts)
    assert facts.status == "partial" and facts.memory is None and facts.missing["memory"]
