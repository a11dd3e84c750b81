"""Name rules shared by the spec models and the drivers that use the names on a host.

A rule lives here, in specs, and the drivers import it (drivers may import specs, never the
other way), so that whatever a spec accepts every layer accepts: a tool name the spec let
through and the facts script then refused made `axis status` fail for the whole fleet.
"""

from __future__ import annotations

import re

#: A tool looked up with `command -v NAME` on every host: a plain file name of 1-64 letters,
#: digits, '.', '_', '+' or '-', not starting with '-' (`command -v -x` reads an option).
TOOL_NAME_RE = re.compile(r"^[A-Za-z0-9._+][A-Za-z0-9._+-]{0,63}$")


def check_tool_name(name: object) -> str:
    """Return `name` if it is a valid tool name, else raise ValueError saying what is allowed."""
    if not isinstance(name, str) or not TOOL_NAME_RE.fullmatch(name):
        raise ValueError(f"tool name {name!r} is invalid: 1-64 letters, digits, '.', '_', '+' or '-', "
                         "not starting with '-'")
    return name
