"""How each fact is read from its section: absent with a reason, never an exception.

Why every fact goes through ``FactBuilder.attempt``: the output comes from a machine we do not
control. A probe that is missing, denied, truncated or garbled must make exactly its own fact
absent, with a reason in ``Facts.missing``; it must never raise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from .errors import FactMissing
from .sections import ScriptOutput

T = TypeVar("T")


class FactBuilder:
    """One run's sections and the reasons collected so far for each fact that is missing."""

    def __init__(self, out: ScriptOutput, no_section: str = "") -> None:
        self.out = out
        self.missing: dict[str, str] = {}
        self.no_section = no_section  # why sections are missing, when the script said so

    def lines(self, name: str, *, require_ok: bool = True) -> list[str]:
        """A section's stdout, or FactMissing with the probe's own reason."""
        sec = self.out.get(name)
        if sec is None:
            raise FactMissing(self.no_section or f"no {name!r} section in the output")
        if require_ok and not sec.ok:
            raise FactMissing(sec.reason())
        if not any(line.strip() for line in sec.lines):
            raise FactMissing(sec.reason(default=f"{name} printed nothing"))
        return sec.lines

    def attempt(self, fact: str, fn: Callable[[], T]) -> T | None:
        try:
            return fn()
        except FactMissing as exc:
            self.missing[fact] = str(exc) or "unknown"
        except Exception as exc:  # noqa: BLE001 - foreign text must never crash a pass
            self.missing[fact] = f"unparseable output ({type(exc).__name__}: {exc})"[:300]
        return None


def need_sysctl(kv: dict[str, str], key: str) -> str:
    """A macOS sysctl value that a fact cannot do without; FactMissing when it is not there."""
    if not kv.get(key):
        raise FactMissing(f"sysctl {key} missing")
    return kv[key]


def lines_or_empty(b: FactBuilder, name: str) -> list[str]:
    """/proc/swaps with only its header is a valid "no swap devices" answer."""
    sec = b.out.get(name)
    if sec is None or not sec.ok:
        return b.lines(name)  # raises with the reason
    return sec.lines
