"""`axis import axis-nodes`: the AXIS (Go) tool's ~/.axis/nodes.yaml as Hosts.

Its fields: name → the Host's name, hostname → address, ssh_user → user, ssh_port → port,
role → the `role` label. timeout_sec (AXIS's per-node fact-collection timeout) has no per-host
field in axis: `axis --connect-timeout SECONDS` bounds reaching every host, and a host pass is
one script, not one SSH command per fact; it is kept as a comment on the host.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap

from axis.adopt.drafts import Draft, Problem, axis_name, listed_drafts, named
from axis.specs.yaml_nodes import node_line

_KEYS = ("name", "hostname", "ssh_user", "ssh_port", "role", "timeout_sec")


def default_file() -> Path:
    """Where AXIS reads its nodes: ~/.axis/nodes.yaml."""
    return Path.home() / ".axis" / "nodes.yaml"


def import_axis_nodes(path: Path) -> list[Draft]:
    """The Hosts of AXIS's `nodes:` list at `path`; ImportFailed with every problem (file:line)."""
    return listed_drafts(path, "nodes", _node, expected="expected `nodes:` with a list of nodes, as AXIS reads it",
                         only="AXIS's nodes.yaml has only `nodes`")


def _node(entry: Any, where: str, at: int, problems: list[Problem]) -> Draft | None:
    if not isinstance(entry, CommentedMap):
        problems.append(Problem(where, at, "a node must be a mapping with name and hostname"))
        return None
    found = len(problems)

    def bad(key: str, message: str) -> None:
        problems.append(Problem(where, node_line(entry, key) if key in entry else at, message, key))

    for key in entry:
        if key not in _KEYS:
            bad(str(key), f"unknown field (AXIS knows {', '.join(_KEYS)})")
    texts: dict[str, str] = {}
    for key in ("name", "hostname", "ssh_user", "role"):
        value = entry.get(key)
        if value is None:
            if key in ("name", "hostname"):
                bad(key, "required field missing")
        elif isinstance(value, str) and value.strip():
            texts[key] = value
        else:
            bad(key, "must be a non-empty string")
    numbers: dict[str, int] = {}
    for key, top in (("ssh_port", 65535), ("timeout_sec", None)):
        value = entry.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1 or (top and value > top):
            bad(key, f"must be a whole number from 1{f' to {top}' if top else ''}")
        else:
            numbers[key] = int(value)
    if len(problems) > found:
        return None
    try:
        name = axis_name(texts["name"])
    except ValueError as exc:
        bad("name", str(exc))
        return None
    spec: dict[str, Any] = {"address": texts["hostname"]}
    if "ssh_user" in texts:
        spec["user"] = texts["ssh_user"]
    if "ssh_port" in numbers:
        spec["port"] = numbers["ssh_port"]
    draft = named(Draft("Host", name, spec, where, at, {"role": texts["role"]} if "role" in texts else {}),
                  texts["name"])
    if "timeout_sec" in numbers:
        draft.notes.append(f"AXIS timeout_sec: {numbers['timeout_sec']} has no per-host field in axis; "
                           "`axis --connect-timeout SECONDS` bounds reaching every host")
    return draft
