"""collect_local() on this very machine: complete and consistent with the kernel's view."""

from __future__ import annotations

import asyncio
import os

import pytest

from axis.drivers.facts import collect_local


def _meminfo_kib(key: str) -> int:
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


@pytest.mark.skipif(not os.path.exists("/proc/meminfo"), reason="needs Linux /proc")
def test_collect_local_matches_this_machine() -> None:
    facts = asyncio.run(collect_local(["sh"]))
    assert facts.status == "complete", facts.missing
    assert not facts.notes
    uname = os.uname()
    assert facts.hostname == uname.nodename
    assert facts.os.family == "linux"
    assert (facts.os.kernel, facts.os.arch) == (uname.release, uname.machine)
    assert facts.cpu.cores == os.cpu_count()
    assert facts.memory.total_bytes == _meminfo_kib("MemTotal") * 1024
    assert 0 < facts.memory.available_bytes <= facts.memory.total_bytes
    assert facts.swap.total_bytes == _meminfo_kib("SwapTotal") * 1024
    st = os.statvfs("/")
    assert facts.root_disk.size_bytes == st.f_blocks * st.f_frsize // 1024 * 1024
    assert facts.tools["sh"] and os.path.isabs(facts.tools["sh"])
    assert facts.sudo.is_root == (os.geteuid() == 0)
    assert facts.collected_at.tzinfo is not None


def test_collect_local_timeout_gives_partial_not_an_exception() -> None:
    facts = asyncio.run(collect_local(timeout=0.0001))
    assert facts.status == "partial"
    assert any("before the 'done' marker" in n for n in facts.notes)


def test_collect_local_rejects_bad_tool_names() -> None:
    with pytest.raises(ValueError):
        asyncio.run(collect_local(["$(reboot)"]))
