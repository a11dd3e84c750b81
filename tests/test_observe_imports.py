"""`axis status` opens its connections before it imports what only its end needs: `while_importing`
lets the fan-out's tasks reach their first network wait, then imports one module per turn of the
loop while they wait, and returns the work's own result (or raises its error)."""

from __future__ import annotations

import asyncio
import sys

import pytest

from axis.app.observe import while_importing


def _module(tmp_path, monkeypatch, name: str) -> None:
    (tmp_path / f"{name}.py").write_text("LOADED = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)


def test_the_hosts_are_contacted_before_the_modules_load(tmp_path, monkeypatch):
    _module(tmp_path, monkeypatch, "axis_late_one")
    _module(tmp_path, monkeypatch, "axis_late_two")
    seen: list[tuple[str, bool]] = []

    async def host(name: str) -> str:
        await asyncio.sleep(0)  # the connection's first step, as fan_out's tasks take it
        seen.append((name, "axis_late_one" in sys.modules))
        await asyncio.sleep(0.05)  # waiting for the host
        return name

    async def fleet() -> list[str]:
        return list(await asyncio.gather(*(host(f"h{i}") for i in range(20))))

    result = asyncio.run(while_importing(fleet(), ["axis_late_one", "axis_late_two"]))
    assert result == [f"h{i}" for i in range(20)]
    assert seen == [(f"h{i}", False) for i in range(20)]  # every host contacted first
    assert "axis_late_one" in sys.modules and "axis_late_two" in sys.modules


def test_the_works_error_is_raised():
    async def failing() -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        asyncio.run(while_importing(failing(), ["json"]))

