"""Ansible's INI inventory format into an `Inventory`, as Ansible's ini plugin reads it.

Lines before the first section name ungrouped hosts; `[group]` lists hosts (`name [key=value
...]`, a `:port` suffix and `[01:09]` ranges allowed); `[group:vars]` sets `key=value` on the
group; `[group:children]` names child groups. `#` and `;` start comment lines. A section of
another kind is an error at its line.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from axis.adopt.ansible_inventory import Inventory, Var, host_and_port
from axis.adopt.drafts import Problem

_SECTION = re.compile(r"\[([^\]:\s]+)(?::(\w+))?\]\s*(?:[#;].*)?")


def read_ini(path: Path, text: str, problems: list[Problem]) -> Inventory:
    """The inventory that INI `text` (read from `path`) describes; each problem added to `problems`."""
    where = str(path)
    inventory = Inventory(where)
    group, kind = "ungrouped", "hosts"
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        section = _SECTION.fullmatch(line)
        if section is not None:
            group, kind = section.group(1), section.group(2) or "hosts"
            if kind not in ("hosts", "vars", "children"):
                problems.append(Problem(where, number, f"unknown section kind :{kind} (Ansible knows :hosts, :vars and :children)"))
                kind = "skip"
            else:
                inventory.group(group, number)
            continue
        if line.startswith("["):
            problems.append(Problem(where, number, f"not a section header Ansible reads: {line}"))
            continue
        if kind == "vars":
            key, eq, value = line.partition("=")
            if not eq or not key.strip():
                problems.append(Problem(where, number, "expected key=value in a :vars section"))
                continue
            inventory.group(group, number).vars[key.strip()] = Var(_unquoted(value.strip()), where, number)
        elif kind == "children":
            inventory.add_child(group, line.split()[0], number)
        elif kind == "hosts":
            _host_line(inventory, group, line, number, problems)
    return inventory


def _host_line(inventory: Inventory, group: str, line: str, number: int, problems: list[Problem]) -> None:
    try:
        words = shlex.split(line, comments=True)
    except ValueError as exc:
        problems.append(Problem(inventory.path, number, f"cannot split the line: {exc}"))
        return
    if not words:
        return
    variables: dict[str, Var] = {}
    for word in words[1:]:
        key, eq, value = word.partition("=")
        if not eq or not key:
            problems.append(Problem(inventory.path, number, f"expected key=value after the host name, not {word!r}"))
            return
        variables[key] = Var(value, inventory.path, number)
    for host, port in host_and_port(words[0], inventory.path, number, problems):
        given = dict(variables)
        if port is not None and "ansible_port" not in given:
            given["ansible_port"] = Var(port, inventory.path, number)
        inventory.add_host(host, group, number, given)


def _unquoted(value: str) -> str:
    """A :vars value with one pair of enclosing quotes removed (`user="ops"` → ops), as Ansible
    reads quoted strings; any other text as written."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value
