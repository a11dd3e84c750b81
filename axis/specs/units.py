"""Typed sizes and durations as users write them in specs (`32G`, `8Gi`, `45m`).

Sizes follow the operator's tools rather than Kubernetes: `fallocate -l 32G`, `free -g` and
`sort -h` all mean GiB by `G`, so a bare `K/M/G/T` is binary, exactly like `Ki/Mi/Gi/Ti`.
Decimal units must be spelled out (`kB`, `MB`, `GB`, `TB`). Values are stored as whole bytes
and written back in one canonical form, so `32G` and `32Gi` hash the same.

Both are bounded when a spec is loaded, so that every later layer can hold them: a lease's
expiry is a float timestamp and a `datetime`, memory a SQLite INTEGER (at most 2**63 - 1).
Unbounded, `ttl: 99999999999999999999999d` was stored and then crashed every command that
showed the claim.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$")
_BINARY = {"": 1, "b": 1, "k": 2**10, "ki": 2**10, "m": 2**20, "mi": 2**20,
           "g": 2**30, "gi": 2**30, "t": 2**40, "ti": 2**40}
_DECIMAL = {"kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}
_CANONICAL = (("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10))

_DURATION_RE = re.compile(r"(\d+)\s*(d|h|m|s)")
_DURATION_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}

#: Largest size: 1 EiB, far above any disk or RAM, far below SQLite's 2**63 - 1.
MAX_SIZE = 2**60
MAX_SIZE_TEXT = "1048576Ti (1 EiB)"
#: Longest duration: 10 years (3650d), far above any lease, well inside `datetime` and `timedelta`.
MAX_DURATION = 3650 * 86400
MAX_DURATION_TEXT = "3650d (10 years)"


def parse_size(value: Any) -> int:
    """Return a size in bytes (0 to MAX_SIZE); a plain integer is already bytes."""
    if isinstance(value, bool):
        raise ValueError("expected a size such as 512Mi, 8Gi or 32G, not a boolean")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("a size cannot be negative")
        if value > MAX_SIZE:
            raise ValueError(f"size {_shown(value)} is larger than the maximum, {MAX_SIZE_TEXT}")
        return value
    if not isinstance(value, str):
        raise ValueError("expected a size such as 512Mi, 8Gi or 32G")
    match = _SIZE_RE.match(value)
    if not match:
        raise ValueError(f"invalid size {_shown(value)}: expected a number and a unit such as 512Mi, 8Gi or 32G")
    number, unit = match.groups()
    key = unit.lower()
    factor = _BINARY.get(key) or _DECIMAL.get(key)
    if factor is None:
        raise ValueError(f"invalid size {_shown(value)}: unknown unit {unit!r} (use K, M, G, T, Ki, Mi, Gi, Ti, kB, MB, GB, TB)")
    size = Decimal(number) * factor  # exact for any length: a float turned 400 digits into inf
    if size > MAX_SIZE:
        raise ValueError(f"invalid size {_shown(value)}: larger than the maximum, {MAX_SIZE_TEXT}")
    return int(size)


def _shown(value: int | str) -> str:
    """A value for a message, cut when long: a 400-digit size is named, not printed."""
    if isinstance(value, int):
        if value < 10**30:
            return str(value)
        try:
            return f"(a {len(str(value)):,}-digit number)"
        except ValueError:  # str() refuses more than 4,300 digits (an int from 0b/0x text can have them)
            return "(a number of more than 4,300 digits)"
    return repr(value) if len(value) <= 40 else f"{value[:30]!r}…({len(value):,} characters)"


def format_size(num_bytes: int) -> str:
    """Canonical spelling: the largest binary unit that divides the value exactly."""
    for suffix, factor in _CANONICAL:
        if num_bytes and num_bytes % factor == 0:
            return f"{num_bytes // factor}{suffix}"
    return str(num_bytes)


def human_size(num_bytes: int | None) -> str:
    """Short, rounded spelling for tables (`29.8Gi`)."""
    if num_bytes is None:
        return "-"
    for suffix, factor in _CANONICAL:
        if num_bytes >= factor:
            return f"{num_bytes / factor:.1f}{suffix}"
    return f"{num_bytes}B"


def parse_duration(value: Any) -> int:
    """Return a duration in seconds (1 to MAX_DURATION) from `45m`, `1h30m`, `90s`, `2d` or an
    integer of seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 45m, 1h30m or 90s, not a boolean")
    if isinstance(value, int):
        if value <= 0:
            raise ValueError("a duration must be positive")
        if value > MAX_DURATION:
            raise ValueError(f"duration {_shown(value)} (seconds) is longer than the maximum, {MAX_DURATION_TEXT}")
        return value
    if not isinstance(value, str):
        raise ValueError("expected a duration such as 45m, 1h30m or 90s")
    text = value.strip().lower()
    pos, total = 0, 0
    # match() at each end, not finditer(): a scan from every start of a long digit run without a
    # unit is quadratic (6,000 digits took 0.9 s)
    while (match := _DURATION_RE.match(text, pos)) is not None:
        digits = match.group(1).lstrip("0")
        # a part longer than the maximum's own digits is over it; int() of 5,000 digits would raise
        total += int(digits or "0") * _DURATION_UNITS[match.group(2)] if len(digits) <= 12 else MAX_DURATION + 1
        pos = match.end()
    if not text or pos != len(text):
        raise ValueError(f"invalid duration {_shown(value)}: expected e.g. 45m, 1h30m, 90s or 2d")
    if total <= 0:
        raise ValueError(f"invalid duration {_shown(value)}: must be longer than zero")
    if total > MAX_DURATION:
        raise ValueError(f"invalid duration {_shown(value)}: longer than the maximum, {MAX_DURATION_TEXT}")
    return total


def format_duration(seconds: int) -> str:
    """Canonical spelling, largest units first (`1h30m`)."""
    parts = []
    for unit, factor in _DURATION_UNITS.items():
        if seconds >= factor:
            parts.append(f"{seconds // factor}{unit}")
            seconds %= factor
    return "".join(parts) or "0s"


Size = Annotated[
    int,
    BeforeValidator(parse_size),
    PlainSerializer(format_size, return_type=str, when_used="json"),
    WithJsonSchema({"anyOf": [{"type": "string", "pattern": r"^\d+(\.\d+)?([KMGT]i?|[kMGT]B|B)?$"},
                              {"type": "integer", "minimum": 0, "maximum": MAX_SIZE}],
                    "description": "at most 1 EiB: bytes, or a number with a unit: K/M/G/T and Ki/Mi/Gi/Ti are binary, kB/MB/GB/TB decimal"}),
]
Duration = Annotated[
    int,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
    WithJsonSchema({"anyOf": [{"type": "string", "pattern": r"^(\d+[dhms])+$"},
                              {"type": "integer", "minimum": 1, "maximum": MAX_DURATION}],
                    "description": "at most 3650d (10 years): seconds, or e.g. 45m, 1h30m, 90s, 2d"}),
]
