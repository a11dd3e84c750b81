"""The `memory_enforcement` fact: cgroup only where systemd can really cap a job; the trap of a
cgroup v2 tree without the memory controller (this machine kind's test hosts) is the watchdog
with that reason; nothing at all says why on both counts."""

from __future__ import annotations

import pytest

from axis.drivers.facts.errors import FactMissing
from axis.drivers.facts.models import SudoFacts
from axis.drivers.facts.parse_enforcement import parse_enforcement
from tests.factskit import FIXTURES, golden_facts, parse

ROOT = SudoFacts(is_root=True, user="root", uid=0)
OPS_SUDO = SudoFacts(is_root=False, passwordless=True, user="ops", uid=1000)
OPS_NO_SUDO = SudoFacts(is_root=False, passwordless=False, user="ops", uid=1000, detail="sudo: a password is required")

#: A systemd host whose cgroup v2 root lists the memory controller (Ubuntu 24.04's
#: /sys/fs/cgroup/cgroup.controllers, as the lent VM of t4-device-cgroup-cap.txt printed it, plus
#: systemd as PID 1).
SYSTEMD_MEMORY = ["systemd: yes", "cgroup2-controllers: cpuset cpu io memory hugetlb pids", "systemd-run: yes",
                  "group-tool: setsid", "ps: yes"]


def _section(name: str) -> list[str]:
    """The memory_enforcement lines of a captured fixture."""
    text = (FIXTURES / f"{name}.txt").read_text()
    start = text.index(":section:memory_enforcement\n") + len(":section:memory_enforcement\n")
    return text[start:text.index("\n@@axis:", start)].split("\n")


def test_the_test_hosts_get_the_watchdog_because_their_cgroup_v2_has_no_memory_controller():
    lines = _section("debian12-testhost")
    assert "systemd: yes" in lines and "cgroup2-controllers: " in lines  # captured: systemd, an empty controller list
    found = parse_enforcement(lines, macos=False, sudo=OPS_SUDO)
    assert found.mode == "watchdog"
    assert found.reason == "the cgroup v2 hierarchy has no memory controller (cgroup.controllers: empty)"
    assert golden_facts("debian12-testhost")["memory_enforcement"] == found.model_dump()


def test_cgroup_where_systemd_root_or_sudo_and_the_memory_controller_are_all_there():
    assert parse_enforcement(SYSTEMD_MEMORY, macos=False, sudo=ROOT).model_dump() == {
        "mode": "cgroup", "reason": "systemd-run as root with a cgroup v2 memory controller"}
    assert parse_enforcement(SYSTEMD_MEMORY, macos=False, sudo=OPS_SUDO).reason.startswith("systemd-run through sudo -n")
    no_root = parse_enforcement(SYSTEMD_MEMORY, macos=False, sudo=OPS_NO_SUDO)
    assert (no_root.mode, no_root.reason) == ("watchdog", "systemd-run needs root: the login user is not root and "
                                                          "sudo -n is not allowed")
    no_run = [line for line in SYSTEMD_MEMORY if not line.startswith("systemd-run")]
    assert parse_enforcement(no_run, macos=False, sudo=ROOT).reason == "systemd-run is not installed"


@pytest.mark.parametrize(("lines", "reason"), [
    (["systemd: no", "cgroup2-controllers: cpuset cpu io memory hugetlb pids", "group-tool: setsid", "ps: yes"],
     "systemd is not PID 1 (axis sets a cgroup memory limit through systemd-run)"),
    (["systemd: yes", "cgroup2: none", "systemd-run: yes", "group-tool: setsid", "ps: yes"],
     "no cgroup v2 hierarchy at /sys/fs/cgroup (cgroup v1 or none)"),
    (["systemd: yes", "cgroup2-controllers: cpu io pids", "systemd-run: yes", "group-tool: perl", "ps: yes"],
     "the cgroup v2 hierarchy has no memory controller (cgroup.controllers: cpu io pids)"),
])
def test_the_watchdog_names_what_a_cgroup_cap_lacks(lines, reason):
    found = parse_enforcement(lines, macos=False, sudo=ROOT)
    assert (found.mode, found.reason) == ("watchdog", reason)


def test_none_says_why_neither_works_and_macos_gets_the_watchdog():
    bare = parse_enforcement(["systemd: no", "cgroup2: none", "ps: no"], macos=False, sudo=ROOT)
    assert bare.mode == "none" and bare.reason == ("systemd is not PID 1 (axis sets a cgroup memory limit through "
                                                   "systemd-run); ps -A -o pgid= -o rss= fails, so a job's memory "
                                                   "cannot be measured")
    no_group = parse_enforcement(["systemd: no", "cgroup2: none", "ps: yes"], macos=False, sudo=ROOT)
    assert no_group.mode == "none" and no_group.reason.endswith("can give a job a process group of its own")
    mac = parse_enforcement(["systemd: no", "cgroup2: none", "group-tool: perl", "ps: yes"], macos=True, sudo=None)
    assert (mac.mode, mac.reason) == ("watchdog", "macOS has no cgroups")


def test_an_unreadable_section_makes_only_this_fact_missing():
    with pytest.raises(FactMissing):
        parse_enforcement(["garbage", "memory: yes"], macos=False, sudo=ROOT)
    text = (FIXTURES / "debian12-testhost.txt").read_text().replace("systemd: yes\ncgroup2-controllers: \n", "")
    facts = parse(text)
    assert facts.memory_enforcement is None and facts.status == "complete"
    assert facts.missing["memory_enforcement"] == "memory_enforcement printed no systemd/ps lines"
