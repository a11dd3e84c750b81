"""Load spec objects from files or directories, keeping the file and line of every field.

All documents are read and validated before anything is returned, and every error is reported
at once, so `axis apply` either stores a whole, valid set or nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.reader import ReaderError

from axis.specs.errors import SpecError, SpecErrors
from axis.specs.features import OFF_TAG, ON_TAG
from axis.specs.models import API_VERSION, KINDS, MODELS, SpecObject

#: Fields that `axis get -o yaml` writes and `axis apply` ignores, so its output can be re-applied.
READ_ONLY_TOP = ("status",)
READ_ONLY_METADATA = ("generation", "creationTimestamp", "source")


@dataclass(frozen=True)
class Loaded:
    """A validated object and where it came from."""

    obj: SpecObject
    path: str
    line: int
    apply_set: str  # the -f argument it was loaded through, resolved; `--prune` works per set

    @property
    def key(self) -> tuple[str, str]:
        return (self.obj.kind, self.obj.metadata.name)

    @property
    def source(self) -> str:
        return f"{self.path}:{self.line}"


def spec_files(path: Path) -> list[Path]:
    """A file as given, or every *.yaml / *.yml below a directory (sorted, hidden dirs skipped)."""
    if path.is_file():
        return [path]
    found = [p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()
             and not any(part.startswith(".") for part in p.relative_to(path).parts)]
    return sorted(found)


def load_specs(paths: Iterable[Path | str]) -> list[Loaded]:
    """Load and validate every object under `paths`; raise SpecErrors listing all problems."""
    errors: list[SpecError] = []
    loaded: list[Loaded] = []
    for given in paths:
        root = Path(given)
        if not root.exists():
            errors.append(SpecError(str(root), 0, "no such file or directory"))
            continue
        apply_set = str(root.resolve())
        for file in spec_files(root):
            loaded.extend(_load_file(file, apply_set, errors))
    return _checked(loaded, errors)


def load_spec_text(text: str, path: str = "<request>") -> list[Loaded]:
    """Load and validate YAML that did not come from a file (an HTTP request body): the same
    checks and `path:line` errors as `load_specs`, with `path` a pseudo path such as `<request>`;
    it also stands for the apply set, since there is no -f argument."""
    errors: list[SpecError] = []
    return _checked(_load_text(text, path, path, errors), errors)


def _checked(loaded: list[Loaded], errors: list[SpecError]) -> list[Loaded]:
    """Add an error for every object defined twice; raise SpecErrors if anything is wrong."""
    seen: dict[tuple[str, str], Loaded] = {}
    for item in loaded:
        first = seen.setdefault(item.key, item)
        if first is not item:
            errors.append(SpecError(item.path, item.line, f"duplicate {item.obj.kind} {item.obj.metadata.name!r}, "
                                    f"first defined at {first.source}", item.obj.kind,
                                    item.obj.metadata.name, "metadata.name"))
    if errors:
        raise SpecErrors(errors)
    return loaded


def _load_file(file: Path, apply_set: str, errors: list[SpecError]) -> list[Loaded]:
    path = str(file)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        errors.append(SpecError(path, 0, f"cannot read: {exc}"))
        return []
    return _load_text(text, path, apply_set, errors)


def _load_text(text: str, path: str, apply_set: str, errors: list[SpecError]) -> list[Loaded]:
    yaml = YAML(typ="rt")
    out: list[Loaded] = []
    try:
        for doc in yaml.load_all(text):
            if doc is None:
                continue
            for node in _items(doc, path, errors):
                item = _validate(node, path, apply_set, errors)
                if item is not None:
                    out.append(item)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        problem = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        errors.append(SpecError(path, line, f"invalid YAML: {problem or exc}"))
    except ReaderError as exc:  # a character YAML does not allow: its line, not a stream offset
        line = text.count("\n", 0, exc.position) + 1 if isinstance(exc.position, int) else 0
        character = f"#x{exc.character:04x}" if isinstance(exc.character, int) else repr(exc.character)
        errors.append(SpecError(path, line, f"invalid YAML: unacceptable character {character}: {exc.reason}"))
    except YAMLError as exc:
        errors.append(SpecError(path, 0, f"invalid YAML: {exc}"))
    return out


def _items(doc: Any, path: str, errors: list[SpecError]) -> list[CommentedMap]:
    """A document is one object, or a `kind: List` of them (as `axis get -o yaml` writes)."""
    if not isinstance(doc, CommentedMap):
        errors.append(SpecError(path, _line(doc), "a document must be a mapping with apiVersion, kind, metadata and spec"))
        return []
    if doc.get("kind") == "List" and "items" in doc:
        items = doc["items"]
        if not isinstance(items, CommentedSeq) or not all(isinstance(i, CommentedMap) for i in items):
            errors.append(SpecError(path, _line(doc, "items"), "must be a list of objects", "List", None, "items"))
            return []
        return list(items)
    return [doc]


def _validate(node: CommentedMap, path: str, apply_set: str, errors: list[SpecError]) -> Loaded | None:
    kind = node.get("kind")
    meta = node.get("metadata")
    name = meta.get("name") if isinstance(meta, CommentedMap) else None
    kind_s, name_s = (str(kind) if kind is not None else None), (str(name) if name is not None else None)

    def error(field: str | None, message: str, line: int) -> None:
        errors.append(SpecError(path, line, message, kind_s, name_s, field))

    if "apiVersion" not in node:
        error("apiVersion", f"required field missing (expected {API_VERSION})", _line(node))
        return None
    if node["apiVersion"] != API_VERSION:
        error("apiVersion", f"unsupported apiVersion {node['apiVersion']!r} (expected {API_VERSION})",
              _line(node, "apiVersion"))
        return None
    if kind is None:
        error("kind", f"required field missing (one of {', '.join(KINDS)})", _line(node))
        return None
    if not isinstance(kind, str) or kind not in MODELS:
        error("kind", f"unknown kind {kind!r} (expected one of {', '.join(KINDS)})", _line(node, "kind"))
        return None
    data = _plain(node)
    for key in READ_ONLY_TOP:
        data.pop(key, None)
    if isinstance(data.get("metadata"), dict):
        for key in READ_ONLY_METADATA:
            data["metadata"].pop(key, None)
    try:
        obj = MODELS[kind].model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = [p for p in err["loc"] if p not in (ON_TAG, OFF_TAG)]
            error(_field(loc), _message(err), _line_of(node, loc))
        return None
    return Loaded(obj=obj, path=path, line=_line(node), apply_set=apply_set)


def _plain(node: Any) -> Any:
    """ruamel's round-trip containers and scalars as plain Python values."""
    if isinstance(node, dict):
        return {str(k) if not isinstance(k, (int, bool)) else k: _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, bool):
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    return node


def _field(loc: list[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _message(err: dict[str, Any]) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "required field missing"
    msg = str(err["msg"])
    return msg.removeprefix("Value error, ")


def _line(node: Any, key: Any = None) -> int:
    """1-based line of a node, or of one of its keys/items."""
    try:
        if key is not None:
            if isinstance(node, CommentedMap):
                return node.lc.key(key)[0] + 1
            if isinstance(node, CommentedSeq):
                return node.lc.item(key)[0] + 1
        return node.lc.line + 1
    except (AttributeError, KeyError, IndexError, TypeError):
        return 0


def _line_of(node: Any, loc: list[Any]) -> int:
    """The line of the deepest part of `loc` that exists in the document."""
    line = _line(node)
    for part in loc:
        if isinstance(node, CommentedMap) and part in node:
            line, node = _line(node, part), node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
            line, node = _line(node, part), node[part]
        else:
            break
    return line
