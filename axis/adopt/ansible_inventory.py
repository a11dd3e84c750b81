"""An Ansible inventory as read from its file, before any variable is resolved: groups with their
hosts, children and vars, and the vars set on each host, every value with the file and line it
came from (so a value axis cannot use is reported where the user wrote it).

Both inventory formats fill this model (axis.adopt.ansible_ini, axis.adopt.ansible_yaml), and
axis.adopt.ansible resolves it as Ansible does. `all` always exists, and so does `ungrouped`.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from typing import Any

from axis.adopt.drafts import Problem


@dataclass(frozen=True)
class Var:
    """A variable's value and where it was set."""

    value: Any
    path: str
    line: int


@dataclass
class Group:
    name: str
    path: str
    line: int
    hosts: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    vars: dict[str, Var] = field(default_factory=dict)


@dataclass
class Inventory:
    """Groups by name, and each host's own vars and the place it was first named."""

    path: str
    groups: dict[str, Group] = field(default_factory=dict)
    host_vars: dict[str, dict[str, Var]] = field(default_factory=dict)
    host_origin: dict[str, tuple[str, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.group("all", 0)
        self.group("ungrouped", 0)

    def group(self, name: str, line: int) -> Group:
        """The group `name`, made (as a child of `all`) when first named."""
        if name not in self.groups:
            self.groups[name] = Group(name, self.path, line)
        return self.groups[name]

    def add_host(self, host: str, group: str, line: int, variables: dict[str, Var]) -> None:
        """`host` in `group`, with vars set on it there (a later definition's values win, as in Ansible)."""
        self.host_origin.setdefault(host, (self.path, line))
        self.host_vars.setdefault(host, {}).update(variables)
        members = self.group(group, line).hosts
        if host not in members:
            members.append(host)

    def add_child(self, parent: str, child: str, line: int) -> None:
        self.group(child, line)
        children = self.group(parent, line).children
        if child not in children:
            children.append(child)


_RANGE = re.compile(r"\[([^\]]+)\]")


def expand(pattern: str) -> list[str]:
    """Ansible's host ranges: `web[01:03].lan` → web01.lan, web02.lan, web03.lan (leading zeros
    kept), `db-[a:c]`, and a step `[0:10:5]`; ValueError for a range Ansible would refuse."""
    found = _RANGE.search(pattern)
    if found is None:
        return [pattern]
    head, tail = pattern[:found.start()], pattern[found.end():]
    parts = found.group(1).split(":")
    if len(parts) not in (2, 3) or not all(parts[:2]):
        raise ValueError(f"host range [{found.group(1)}] must be [start:end] or [start:end:step]")
    start, end = parts[0], parts[1]
    step = int(parts[2]) if len(parts) == 3 and parts[2].isdigit() else 1
    if len(parts) == 3 and (not parts[2].isdigit() or step < 1):
        raise ValueError(f"host range [{found.group(1)}]: the step must be a positive whole number")
    if start.isdigit() and end.isdigit():
        width = len(start) if start.startswith("0") else 0
        items = [str(n).zfill(width) for n in range(int(start), int(end) + 1, step)]
    elif len(start) == len(end) == 1 and start in string.ascii_letters and end in string.ascii_letters:
        items = [chr(c) for c in range(ord(start), ord(end) + 1, step)]
    else:
        raise ValueError(f"host range [{found.group(1)}]: both ends numbers, or both single letters")
    if not items:
        raise ValueError(f"host range [{found.group(1)}] is empty: its start is after its end")
    return [f"{head}{item}{rest}" for item in items for rest in expand(tail)]


_PORT = re.compile(r"(.+):(\d+)")


def host_and_port(pattern: str, path: str, line: int, problems: list[Problem]) -> list[tuple[str, int | None]]:
    """The hosts a host pattern names, each with the port written after it (`db:2222`); a range
    that cannot be expanded is a problem at `line`."""
    port: int | None = None
    split = _PORT.fullmatch(pattern)
    if split is not None and ":" not in _RANGE.sub("", split.group(1)):
        pattern, port = split.group(1), int(split.group(2))
    try:
        return [(host, port) for host in expand(pattern)]
    except ValueError as exc:
        problems.append(Problem(path, line, str(exc)))
        return []
