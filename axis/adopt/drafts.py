"""What every importer produces: spec objects still to be written (`Draft`), the errors that stop
an import (`Problem`, `ImportFailed`), axis names made from other tools' names, and the YAML reader
the importers share (the spec loader's bounded one, so an inventory line is always known)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from axis.specs.bounded_yaml import MAX_SPEC_BYTES, bounded_yaml
from axis.specs.models import API_VERSION, dns_label
from axis.specs.yaml_nodes import node_line


@dataclass(frozen=True)
class Problem:
    """One thing in the input that axis cannot import, printed `path:line: field: message`."""

    path: str
    line: int
    message: str
    field: str | None = None

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class ImportFailed(Exception):
    """Every problem found in one import. Nothing is written when it is raised, but for `written`:
    the files a write that failed midway had renamed into place (axis.adopt.writer)."""

    def __init__(self, problems: list[Problem], written: list[Path] | None = None):
        self.problems = problems
        self.written = written or []
        super().__init__("\n".join(str(p) for p in problems))


@dataclass
class Draft:
    """A Host or HostProfile to write: its document's parts, where it came from (`path` and
    `line`, said in its first comment line) and notes for the reader (more comment lines: what
    the source said that axis has no field for)."""

    kind: str
    name: str
    spec: dict[str, Any]
    path: str
    line: int
    labels: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def origin(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path

    def document(self) -> dict[str, Any]:
        """The object as `axis apply` reads it (plain values; the writer adds the comments)."""
        metadata: dict[str, Any] = {"name": self.name}
        if self.labels:
            metadata["labels"] = dict(self.labels)
        return {"apiVersion": API_VERSION, "kind": self.kind, "metadata": metadata, "spec": self.spec}


_NOT_IN_NAME = re.compile(r"[^a-z0-9-]+")


def axis_name(source: str) -> str:
    """The axis name for another tool's host name: lowercased, each run of characters other than
    a-z, 0-9 and '-' made one '-', and '-' trimmed from both ends (`Web_01.example.com` →
    `web-01-example-com`). ValueError when that is still no DNS-1123 label (empty, or longer than
    63 characters): a name cut short could name two hosts alike."""
    converted = _NOT_IN_NAME.sub("-", source.lower()).strip("-")
    if not converted:
        raise ValueError(f"host name {source!r} has no letter or digit to make an axis name of")
    try:
        return dns_label(converted)
    except ValueError:
        raise ValueError(f"host name {source!r} makes {converted!r}, longer than an axis name may be "
                         "(63 characters); rename it in the source") from None


def named(draft: Draft, source_name: str) -> Draft:
    """`draft` with a note when its axis name is not the source's name as written."""
    if draft.name != source_name:
        draft.notes.append(f"named {source_name!r} in the source (axis names are DNS-1123 labels)")
    return draft


def unique(drafts: list[Draft]) -> list[Problem]:
    """A problem for every object whose name an earlier one of the same kind already took."""
    seen: dict[tuple[str, str], Draft] = {}
    problems = []
    for draft in drafts:
        first = seen.setdefault((draft.kind, draft.name), draft)
        if first is not draft:
            problems.append(Problem(draft.path, draft.line, f"{draft.kind} name {draft.name!r} is also made by "
                                    f"{first.origin}; rename one of them in the source"))
    return problems


def read_yaml(path: Path) -> Any:
    """A YAML (or JSON) file as ruamel's round-trip nodes, whose `.lc` give each key's line;
    ImportFailed naming the file and line when it cannot be read or parsed."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImportFailed([Problem(str(path), 0, f"cannot read: {exc.strerror or exc}")]) from None
    if len(data) > MAX_SPEC_BYTES:
        raise ImportFailed([Problem(str(path), 0, f"larger than {MAX_SPEC_BYTES:,} bytes; an inventory is smaller")])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ImportFailed([Problem(str(path), line, "not UTF-8 text")]) from None
    try:
        return bounded_yaml().load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        raise ImportFailed([Problem(str(path), mark.line + 1 if mark else 0, f"cannot parse: {problem}")]) from None
    except YAMLError as exc:
        raise ImportFailed([Problem(str(path), 0, f"cannot parse: {exc}")]) from None


#: Converts one list entry (its file, its line, the problems so far) to a Draft, or None with problems added.
Convert = Callable[[Any, str, int, list[Problem]], Draft | None]


def listed_drafts(path: Path, key: str, convert: Convert, *, expected: str, only: str) -> list[Draft]:
    """The drafts of the list under `key` in the YAML/JSON mapping at `path` (pool's roster, AXIS's
    nodes), every entry converted; ImportFailed with every problem (file:line): not that shape
    (`expected`), another top-level key (`only` says which one the tool has), an empty list, an
    entry `convert` refused, two entries with one name."""
    data = read_yaml(path)
    where = str(path)
    if not isinstance(data, CommentedMap) or not isinstance(data.get(key), CommentedSeq):
        raise ImportFailed([Problem(where, node_line(data), expected)])
    problems = [Problem(where, node_line(data, k), f"unknown key ({only})", str(k)) for k in data if k != key]
    drafts = []
    for index, entry in enumerate(data[key]):
        draft = convert(entry, where, node_line(data[key], index), problems)
        if draft is not None:
            drafts.append(draft)
    if not data[key]:
        problems.append(Problem(where, node_line(data, key), f"no {key}: nothing to import", key))
    problems += unique(drafts)
    if problems:
        raise ImportFailed(problems)
    return drafts
