"""Small, total (never-raising) text helpers shared by the fact parsers.

Why: every parser handles text from another machine, which may be truncated, localised
or simply odd. These return ``None`` instead of raising, so a parser can say "absent"
with a reason rather than crash the whole pass.
"""

from __future__ import annotations

import re

_INT_RE = re.compile(r"^[+-]?\d+$")
_FLOAT_RE = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)$")


def to_int(text: str | None) -> int | None:
    """``"42"`` → 42; anything else (``"[N/A]"``, ``""``, ``"4.2"``) → None."""
    if text is None:
        return None
    text = text.strip()
    return int(text) if _INT_RE.match(text) else None


def to_float(text: str | None) -> float | None:
    """Parse a decimal number; a lone decimal comma ("0,52", a leaked de_DE locale) is
    accepted because these numbers never carry thousands separators."""
    if text is None:
        return None
    text = text.strip()
    if not _FLOAT_RE.match(text):
        return None
    try:
        return float(text.replace(",", "."))
    except ValueError:
        return None


def blank_fields(line: str) -> list[str]:
    r"""A line's fields separated by spaces and tabs only, as the kernel and ``df`` separate them.

    Why not ``str.split()``: it also splits at \v, \f, \x1c-\x1f, \x85 and U+2028/2029, which
    the kernel leaves unescaped in mount points (/proc/mounts escapes only space, tab, newline
    and backslash): a mount named ``/m\x1c/\x1cext4`` would shift the fields of its line.
    """
    return [f for f in re.split(r"[ \t]+", line) if f]


def key_values(lines: list[str], sep: str = ":") -> dict[str, str]:
    """``"Key: value"`` lines → dict; the first occurrence of a key wins."""
    out: dict[str, str] = {}
    for line in lines:
        key, found, value = line.partition(sep)
        if found and key.strip() and key.strip() not in out:
            out[key.strip()] = value.strip()
    return out


_UNITS = {"": 1, "B": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def size_with_unit(text: str) -> int | None:
    """``"2048.00M"`` → bytes (binary units, as macOS ``vm.swapusage`` prints)."""
    m = re.match(r"^\s*(\d+(?:[.,]\d+)?)\s*([BKMGT]?)i?B?\s*$", text.strip(), re.I)
    if not m:
        return None
    num = to_float(m.group(1))
    if num is None:
        return None
    return int(round(num * _UNITS[m.group(2).upper()]))


def unescape_mount(path: str) -> str:
    r"""Undo the octal escapes of /proc/mounts (``\040`` is a space)."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), path)
