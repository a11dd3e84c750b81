"""Name rules shared by the spec models and the drivers that use the names on a host.

A rule lives here, in specs, and the drivers import it (drivers may import specs, never the
other way), so that whatever a spec accepts every layer accepts: a tool name the spec let
through and the facts script then refused made `axis status` fail for the whole fleet.
"""

from __future__ import annotations

import re

#: An object's name (Host, HostProfile, Claim, a git source): a DNS-1123 label. Use fullmatch:
#: `$` also matches before a final newline, so `name: "web\n"` passed. Shell completion offers
#: only names that match it: zsh evaluates the words it is handed.
DNS_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")

#: A tool looked up with `command -v NAME` on every host: a plain file name of 1-64 letters,
#: digits, '.', '_', '+' or '-', not starting with '-' (`command -v -x` reads an option).
TOOL_NAME_RE = re.compile(r"^[A-Za-z0-9._+][A-Za-z0-9._+-]{0,63}$")


def check_host_word(value: str, allowed: str) -> str:
    """Return `value` if it can be one argument or one field of a line on a host: no whitespace
    (a CR in a swap path split its /etc/fstab line, and the file grew two lines every pass), no
    character that is not printable (C0/C1 controls, zero-width and bidi marks), no leading '-'
    (an option to ssh or a tool). Else raise ValueError saying what `allowed` is."""
    bad = next((c for c in value if c.isspace() or not c.isprintable()), None)
    if bad is not None:
        raise ValueError(f"must be {allowed}: U+{ord(bad):04X} is whitespace or not printable")
    if value.startswith("-"):
        raise ValueError(f"must be {allowed}")
    return value


def check_tool_name(name: object) -> str:
    """Return `name` if it is a valid tool name, else raise ValueError saying what is allowed."""
    if not isinstance(name, str) or not TOOL_NAME_RE.fullmatch(name):
        raise ValueError(f"tool name {name!r} is invalid: 1-64 letters, digits, '.', '_', '+' or '-', "
                         "not starting with '-'")
    return name
