"""Ansible's YAML inventory format into an `Inventory`, as Ansible's yaml plugin reads it.

The top level maps group names (usually just `all`) to groups; a group has `hosts` (a mapping of
host patterns to their vars, or to nothing), `vars` and `children` (groups, nested the same way),
each optional. Another key in a group is an error at its line.
"""

from __future__ import annotations

from typing import Any

from ruamel.yaml.comments import CommentedMap

from axis.adopt.ansible_inventory import Inventory, Var, host_and_port
from axis.adopt.drafts import Problem
from axis.specs.yaml_nodes import node_line

_GROUP_KEYS = ("hosts", "vars", "children")


def read_yaml_inventory(where: str, data: Any, problems: list[Problem]) -> Inventory:
    """The inventory `data` (ruamel nodes read from `where`) describes; problems added to `problems`."""
    inventory = Inventory(where)
    if not isinstance(data, CommentedMap):
        problems.append(Problem(where, node_line(data), "an inventory must map group names (such as `all`) to groups"))
        return inventory
    for name, body in data.items():
        _group(inventory, str(name), body, node_line(data, name), problems)
    return inventory


def _group(inventory: Inventory, name: str, body: Any, at: int, problems: list[Problem]) -> None:
    where = inventory.path
    inventory.group(name, at)
    if body is None:
        return
    if not isinstance(body, CommentedMap):
        problems.append(Problem(where, at, "a group must be a mapping of hosts, vars and children", name))
        return
    for key in body:
        if key not in _GROUP_KEYS:
            problems.append(Problem(where, node_line(body, key), f"unknown key in group {name!r} "
                                    f"(Ansible reads {', '.join(_GROUP_KEYS)})", str(key)))
    variables = _mapping(body.get("vars"), where, node_line(body, "vars") if "vars" in body else at, problems)
    inventory.group(name, at).vars.update(variables)
    hosts = body.get("hosts")
    if isinstance(hosts, CommentedMap):
        for pattern, host_body in hosts.items():
            line = node_line(hosts, pattern)
            given = _mapping(host_body, where, line, problems)
            for host, port in host_and_port(str(pattern), where, line, problems):
                own = dict(given)
                if port is not None and "ansible_port" not in own:
                    own["ansible_port"] = Var(port, where, line)
                inventory.add_host(host, name, line, own)
    elif hosts is not None:
        problems.append(Problem(where, node_line(body, "hosts"), "must map host names to their vars", "hosts"))
    children = body.get("children")
    if isinstance(children, CommentedMap):
        for child, child_body in children.items():
            inventory.add_child(name, str(child), node_line(children, child))
            _group(inventory, str(child), child_body, node_line(children, child), problems)
    elif children is not None:
        problems.append(Problem(where, node_line(body, "children"), "must map group names to groups", "children"))


def _mapping(body: Any, where: str, at: int, problems: list[Problem]) -> dict[str, Var]:
    """Vars written as a YAML mapping, each with its line; nothing for an empty value."""
    if body is None:
        return {}
    if not isinstance(body, CommentedMap):
        problems.append(Problem(where, at, "vars must be a mapping of names to values"))
        return {}
    return {str(key): Var(value, where, node_line(body, key)) for key, value in body.items()}
