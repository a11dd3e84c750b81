"""`axis import ansible INVENTORY`: an Ansible inventory (INI, or YAML by its .yml/.yaml/.json
name, as Ansible picks the plugin) as Hosts, its variables resolved as Ansible resolves them.

A host belongs to the groups that list it and to their parents through `children`; each such
group but `all` and `ungrouped` becomes the label `ansible-group/NAME: "true"`. Its vars are
merged in Ansible's order of precedence: the inventory's group vars, then group_vars/ files (both
from `all` to the deepest group; at one depth by ansible_group_priority, then name), then the
host's own vars, then host_vars/ files (group_vars/ and host_vars/ beside the inventory: the
first that exists of NAME, NAME.yml, NAME.yaml and NAME.json, a directory NAME/ meaning its files,
hidden and backup files skipped, as Ansible takes them).

Of the result, ansible_host (the address; the inventory name when unset), ansible_port,
ansible_user and ansible_become make the spec; so do the older ansible_ssh_host, ansible_ssh_port
and ansible_ssh_user, which win when both spellings are set (Ansible's MAGIC_VARIABLE_MAPPING lists
them first). ansible_sudo is ignored, as ansible-core ignores it, and said in a comment. Other `ansible_*` connection variables change how a host is reached and axis has no field
for them: each is an error at its line, naming where axis takes it instead (~/.ssh/config), except
those that leave an SSH login as it is (interpreters, become as root by sudo). Variables without
the `ansible_` prefix belong to playbooks and are left alone.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml.comments import CommentedMap

from axis.adopt.ansible_ini import read_ini
from axis.adopt.ansible_inventory import Group, Inventory, Var
from axis.adopt.ansible_yaml import read_yaml_inventory
from axis.adopt.drafts import Draft, ImportFailed, Problem, axis_name, named, read_yaml, unique
from axis.specs.models import Metadata
from axis.specs.yaml_nodes import node_line

LABEL_PREFIX = "ansible-group/"
_YAML_SUFFIXES = (".yml", ".yaml", ".json")
#: Spec fields and the variables that set them, the one Ansible prefers first: of both spellings
#: ansible-core takes the older ansible_ssh_* (PlayContext's MAGIC_VARIABLE_MAPPING order).
_FIELDS = {"address": ("ansible_ssh_host", "ansible_host"), "user": ("ansible_ssh_user", "ansible_user"),
           "port": ("ansible_ssh_port", "ansible_port"), "sudo": ("ansible_become",)}
#: Variables ansible-core no longer reads: left out of the spec as Ansible leaves them, with a note.
_IGNORED = {"ansible_sudo": "ansible-core ignores it (only ansible_become makes it use sudo)"}
_MAPPED = {var for names in _FIELDS.values() for var in names} | set(_IGNORED)
#: Variables that leave an SSH login and sudo as axis does them: value → acceptable (None: any).
_HARMLESS: dict[str, tuple[str, ...] | None] = {
    "ansible_connection": ("ssh", "smart", "paramiko", "paramiko_ssh"), "ansible_become_method": ("sudo",),
    "ansible_become_user": ("root",), "ansible_sudo_user": ("root",), "ansible_group_priority": None,
    "ansible_shell_type": ("sh",), "ansible_pipelining": None, "ansible_ssh_pipelining": None,
}
_TRUE, _FALSE = ("true", "yes", "on", "1", "y", "t"), ("false", "no", "off", "0", "n", "f")


def import_ansible(path: Path) -> list[Draft]:
    """The Hosts of the inventory at `path`; ImportFailed with every problem (file:line)."""
    problems: list[Problem] = []
    inventory = _read(path, problems)
    parents: dict[str, list[str]] = {name: [] for name in inventory.groups}
    for group in inventory.groups.values():
        for child in group.children:
            parents[child].append(group.name)
    depth = _depths(inventory, parents, problems)
    for group in inventory.groups.values():
        if group.name not in ("all", "ungrouped") and not _label_ok(group.name):
            problems.append(Problem(group.path, group.line, f"group {group.name!r} cannot be an axis label name "
                                    "(letters, digits, '-', '_' and '.', starting and ending with a letter or "
                                    "digit, at most 63 characters); rename it"))
    if problems:
        raise ImportFailed(problems)
    group_files = {name: _var_files(path.parent / "group_vars", name, problems) for name in inventory.groups}
    drafts = []
    for host, (where, line) in inventory.host_origin.items():
        groups = sorted(_groups_of(inventory, parents, host), key=lambda g: (depth[g.name], _priority(g), g.name))
        merged: dict[str, Var] = {}
        for group in groups:
            merged.update(group.vars)
        for group in groups:
            merged.update(group_files[group.name])
        merged.update(inventory.host_vars[host])
        merged.update(_var_files(path.parent / "host_vars", host, problems))
        labels = {f"{LABEL_PREFIX}{g.name}": "true" for g in groups if g.name not in ("all", "ungrouped")}
        draft = _host(host, where, line, merged, labels, problems)
        if draft is not None:
            drafts.append(draft)
    if not inventory.host_origin:
        problems.append(Problem(str(path), 0, "no hosts in this inventory: nothing to import"))
    problems += unique(drafts)
    if problems:
        raise ImportFailed(problems)
    return drafts


def _read(path: Path, problems: list[Problem]) -> Inventory:
    """The inventory at `path`, read as YAML or INI by its name, as Ansible picks the plugin."""
    if path.suffix in _YAML_SUFFIXES:
        return read_yaml_inventory(str(path), read_yaml(path), problems)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportFailed([Problem(str(path), 0, f"cannot read: {getattr(exc, 'strerror', None) or exc}")]) from None
    return read_ini(path, text, problems)


def _label_ok(group: str) -> bool:
    try:
        Metadata.model_validate({"name": "x", "labels": {f"{LABEL_PREFIX}{group}": "true"}})
    except ValidationError:
        return False
    return True


def _depths(inventory: Inventory, parents: dict[str, list[str]], problems: list[Problem]) -> dict[str, int]:
    """Each group's depth below `all` (the longest way down, as Ansible counts it); a group that
    is its own ancestor is a problem."""
    depth: dict[str, int] = {}

    def walk(name: str, trail: tuple[str, ...]) -> int:
        if name in trail:
            group = inventory.groups[name]
            problems.append(Problem(group.path, group.line, f"group {name!r} is its own child "
                                    f"({' → '.join((*trail[trail.index(name):], name))})"))
            return 0
        if name not in depth:
            above = [p for p in parents[name] if p != "all"]
            depth[name] = 0 if name == "all" else 1 + max((walk(p, (*trail, name)) for p in above), default=0)
        return depth[name]

    for name in inventory.groups:
        walk(name, ())
    return depth


def _groups_of(inventory: Inventory, parents: dict[str, list[str]], host: str) -> list[Group]:
    """`all` and every group that lists `host`, with their ancestors."""
    found: dict[str, Group] = {"all": inventory.groups["all"]}
    todo = [g.name for g in inventory.groups.values() if host in g.hosts]
    while todo:
        name = todo.pop()
        if name not in found:
            found[name] = inventory.groups[name]
            todo += parents[name]
    if any(name not in ("all", "ungrouped") for name in found):
        found.pop("ungrouped", None)  # Ansible keeps in `ungrouped` only hosts of no other group
    return list(found.values())


def _priority(group: Group) -> int:
    value = group.vars.get("ansible_group_priority")
    return int(value.value) if value is not None and str(value.value).isdigit() else 1


def _var_files(directory: Path, name: str, problems: list[Problem]) -> dict[str, Var]:
    """The vars of group_vars/NAME or host_vars/NAME, found as Ansible's DataLoader.find_vars_files
    finds them: only the first of NAME, NAME.yml, NAME.yaml and NAME.json that exists, a directory
    among them standing for every file below it (`_dir_files`)."""
    found: list[Path] = []
    for candidate in (directory / f"{name}{suffix}" for suffix in ("", *_YAML_SUFFIXES)):
        if candidate.is_dir():
            found = _dir_files(candidate, problems)
            break
        if candidate.exists():
            found = [candidate]
            break
    merged: dict[str, Var] = {}
    for file in found:
        try:
            encrypted = file.read_bytes().startswith(b"$ANSIBLE_VAULT")
        except OSError as exc:
            problems.append(Problem(str(file), 0, f"cannot read: {exc.strerror or exc}"))
            continue
        if encrypted:
            problems.append(Problem(str(file), 1, "encrypted with ansible-vault: axis cannot read it; move the "
                                    "connection variables (ansible_host, ansible_user, ...) out of the vault"))
            continue
        try:
            data = read_yaml(file)
        except ImportFailed as exc:
            problems += exc.problems
            continue
        if data is None:
            continue
        if not isinstance(data, CommentedMap):
            problems.append(Problem(str(file), node_line(data), "vars must be a mapping of names to values"))
            continue
        merged.update({str(k): Var(v, str(file), node_line(data, k)) for k, v in data.items()})
    return merged


def _dir_files(directory: Path, problems: list[Problem]) -> list[Path]:
    """The vars files in a group_vars/ or host_vars/ directory as Ansible takes them: names in
    sorted order, each subdirectory without a suffix in its place; hidden names (`.DS_Store`) and
    backups (`main.yml~`) skipped; files without a suffix or with .yml, .yaml or .json."""
    try:
        names = sorted(entry.name for entry in directory.iterdir())
    except OSError as exc:
        problems.append(Problem(str(directory), 0, f"cannot read the directory: {exc.strerror or exc}"))
        return []
    found: list[Path] = []
    for entry in (directory / n for n in names if not n.startswith(".") and not n.endswith("~")):
        suffix = os.path.splitext(entry.name)[1]
        if entry.is_dir() and not suffix:
            found += _dir_files(entry, problems)
        elif entry.is_file() and suffix in ("", *_YAML_SUFFIXES):
            found.append(entry)
    return found


def _host(host: str, where: str, line: int, merged: dict[str, Var], labels: dict[str, str],
          problems: list[Problem]) -> Draft | None:
    found = len(problems)
    for key, var in merged.items():
        if not key.startswith("ansible_") or key in _MAPPED or key.endswith("_interpreter"):
            continue
        allowed = _HARMLESS.get(key, ())
        if allowed is None or (allowed and str(var.value) in allowed):
            continue
        why = (f"only {', '.join(allowed)} is what axis does" if allowed
               else "axis has no such setting; put how to reach the host in ~/.ssh/config (axis reads it)")
        problems.append(Problem(var.path, var.line, f"{var.value!r} for {host}: {why}", key))
    spec: dict[str, Any] = {"address": host}
    for spec_field, names in _FIELDS.items():
        given = next((merged[n] for n in names if n in merged), None)
        if given is None:
            continue
        try:
            spec[spec_field] = _converted(spec_field, given.value)
        except ValueError as exc:
            problems.append(Problem(given.path, given.line, f"{exc} (for {host})", next(n for n in names if n in merged)))
    try:
        name = axis_name(host)
    except ValueError as exc:
        problems.append(Problem(where, line, str(exc)))
    if len(problems) > found:
        return None
    draft = named(Draft("Host", name, spec, where, line, labels), host)
    draft.notes += [f"{key} ({merged[key].path}:{merged[key].line}) left out: {why}"
                    for key, why in _IGNORED.items() if key in merged]
    return draft


def _converted(spec_field: str, value: Any) -> Any:
    if isinstance(value, str) and ("{{" in value or "{%" in value):
        raise ValueError(f"{value!r} is a Jinja template; axis reads values, not templates")
    if spec_field == "port":
        if isinstance(value, bool) or not str(value).isdigit():
            raise ValueError(f"{value!r} is not a port number")
        return int(value)
    if spec_field == "sudo":
        text = str(value).lower()
        if text not in (*_TRUE, *_FALSE):
            raise ValueError(f"{value!r} is not a boolean Ansible reads")
        return text in _TRUE
    if not isinstance(value, str) or not value:
        raise ValueError(f"{value!r} is not a host or user name")
    return value
