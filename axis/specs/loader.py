"""Load spec objects from files or directories, keeping the file and line of every field.

All documents are read and validated before anything is returned, and every error is reported
at once, so `axis apply` either stores a whole, valid set or nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from itertools import islice
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.reader import ReaderError

from axis.specs.bounded_yaml import MAX_LINES, MAX_SPEC_BYTES, Refused, bounded_yaml, collector_paused
from axis.specs.errors import SpecError, SpecErrors, field_path, problem_text
from axis.specs.features import OFF_TAG, ON_TAG
from axis.specs.models import API_VERSION, KINDS, MODELS, Kind, Loaded
from axis.specs.yaml_nodes import line_of, node_line, plain, text_problems

#: Fields that `axis get -o yaml` writes and `axis apply` ignores, so its output can be re-applied.
READ_ONLY_TOP = ("status",)
READ_ONLY_METADATA = ("generation", "creationTimestamp", "source")
#: What ruamel counts as a line break (a lone CR, NEL and the Unicode separators too).
_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


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
    if len(text) > MAX_SPEC_BYTES:
        raise SpecErrors([_too_large(path, len(text), "characters")])
    return _checked(_load_text(text, path, path, errors), errors)


def decode_spec_bytes(data: bytes, path: str = "<request>") -> str:
    """Spec text from raw bytes (a request body): UTF-8 of at most MAX_SPEC_BYTES, else SpecErrors
    naming the line of the first byte that is not UTF-8."""
    errors: list[SpecError] = []
    text = _decode(data, path, errors)
    if text is None:
        raise SpecErrors(errors)
    return text


def _decode(data: bytes, path: str, errors: list[SpecError]) -> str | None:
    if len(data) > MAX_SPEC_BYTES:
        errors.append(_too_large(path, len(data), "bytes"))
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        errors.append(SpecError(path, line, f"not UTF-8 text: byte 0x{data[exc.start]:02x} at column {column} "
                                f"({exc.reason}); save the file as UTF-8"))
        return None


def _too_large(path: str, size: int, unit: str) -> SpecError:
    return SpecError(path, 0, f"{size:,} {unit} is larger than a spec may be ({MAX_SPEC_BYTES:,} bytes); "
                     "split it into several files")


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
        with file.open("rb") as handle:
            data = handle.read(MAX_SPEC_BYTES + 1)  # never the whole of a huge file
            if len(data) > MAX_SPEC_BYTES:
                errors.append(_too_large(path, max(len(data), _size(file)), "bytes"))
                return []
    except OSError as exc:
        errors.append(SpecError(path, 0, f"cannot read: {exc.strerror or exc}"))
        return []
    text = _decode(data, path, errors)
    return [] if text is None else _load_text(text, path, apply_set, errors)


def _size(file: Path) -> int:
    try:
        return file.stat().st_size
    except OSError:
        return 0


def _too_many_lines(text: str, path: str) -> SpecError | None:
    """A file of more than MAX_LINES lines, found at C speed before ruamel reads a line of it:
    a mebibyte of `#` lines holds no node, yet took ruamel 2.8 s."""
    if next(islice(_LINE_BREAK.finditer(text), MAX_LINES, None), None) is None:
        return None
    return SpecError(path, MAX_LINES + 1, f"more than {MAX_LINES:,} lines in one file; split it into several files")


def _load_text(text: str, path: str, apply_set: str, errors: list[SpecError]) -> list[Loaded]:
    if (too_long := _too_many_lines(text, path)) is not None:
        errors.append(too_long)
        return []
    with collector_paused():
        return _read_documents(text, path, apply_set, errors)


def _read_documents(text: str, path: str, apply_set: str, errors: list[SpecError]) -> list[Loaded]:
    yaml = bounded_yaml()
    out: list[Loaded] = []
    try:
        for doc in yaml.load_all(text):
            if doc is None:
                continue
            for node in _items(doc, path, errors):
                item = _validate(node, path, apply_set, errors)
                if item is not None:
                    out.append(item)
    except Refused as exc:
        errors.append(SpecError(path, exc.problem_mark.line + 1 if exc.problem_mark else 0, str(exc.problem)))
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
        errors.append(SpecError(path, node_line(doc), "a document must be a mapping with apiVersion, kind, metadata and spec"))
        return []
    if doc.get("kind") == "List" and "items" in doc:
        items = doc["items"]
        if not isinstance(items, CommentedSeq) or not all(isinstance(i, CommentedMap) for i in items):
            errors.append(SpecError(path, node_line(doc, "items"), "must be a list of objects", "List", None, "items"))
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
        error("apiVersion", f"required field missing (expected {API_VERSION})", node_line(node))
        return None
    if node["apiVersion"] != API_VERSION:
        error("apiVersion", f"unsupported apiVersion {node['apiVersion']!r} (expected {API_VERSION})",
              node_line(node, "apiVersion"))
        return None
    if kind is None:
        error("kind", f"required field missing (one of {', '.join(KINDS)})", node_line(node))
        return None
    if not isinstance(kind, str) or kind not in MODELS:
        error("kind", f"unknown kind {kind!r} (expected one of {', '.join(KINDS)})", node_line(node, "kind"))
        return None
    problems = text_problems(node)
    for loc, message in problems:
        error(field_path(loc), message, line_of(node, loc))
    if problems:
        return None
    data = dict(plain(node))  # copies: the dicts below may also be values elsewhere (aliases)
    for key in READ_ONLY_TOP:
        data.pop(key, None)
    if isinstance(data.get("metadata"), dict):
        data["metadata"] = {k: v for k, v in data["metadata"].items() if k not in READ_ONLY_METADATA}
    try:
        obj = MODELS[Kind(kind)].model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = [p for p in err["loc"] if p not in (ON_TAG, OFF_TAG)]
            error(field_path(loc), problem_text(err), line_of(node, loc))
        return None
    return Loaded(obj=obj, path=path, line=node_line(node), apply_set=apply_set)
