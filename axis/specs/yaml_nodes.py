"""A spec document as ruamel reads it: the line of any field, its text checked, plain values.

The loader keeps ruamel's round-trip nodes (they know their lines) until validation, so an error
names the line of the deepest part of its field that exists in the file.
"""

from __future__ import annotations

from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar

from axis.specs.text import describe_unsafe, first_unsafe

#: Longest text one field may hold (a task description is a few lines; a DB row stays small).
MAX_STRING = 64 * 1024


def text_problems(node: Any) -> list[tuple[list[Any], str]]:
    """Every key or string value that holds a character `axis.specs.text` refuses (controls, bidi
    overrides) or is longer than MAX_STRING,
    with its location. A node shared through an alias is checked (and reported) once."""
    found: list[tuple[list[Any], str]] = []
    seen: set[int] = set()

    def check(text: str, loc: list[Any]) -> None:
        if len(text) > MAX_STRING:
            found.append((loc, f"text of {len(text):,} characters is longer than a field may hold ({MAX_STRING:,})"))
        bad = first_unsafe(text)  # a NUL ends a C string; the rest rewrite or reorder a terminal
        if bad is not None:
            found.append((loc, f"{describe_unsafe(bad)} U+{ord(bad):04X} is not allowed in spec text"))

    def walk(value: Any, loc: list[Any]) -> None:
        if id(value) in seen:
            return
        seen.add(id(value))
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str):
                    check(key, [*loc, key])
                walk(item, [*loc, key])
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, [*loc, index])
        elif isinstance(value, str):
            check(value, loc)

    walk(node, [])
    return found


def plain(node: Any, memo: dict[int, Any] | None = None) -> Any:
    """ruamel's round-trip containers and scalars as plain Python values. A container shared
    through aliases becomes one shared plain value (`memo`), so the work is the document's size,
    not its expanded size (the composer's budget bounds that for the validation that follows)."""
    memo = {} if memo is None else memo
    if isinstance(node, (dict, list)) and id(node) in memo:
        return memo[id(node)]
    if isinstance(node, dict):
        mapping = memo[id(node)] = {str(k) if not isinstance(k, (int, bool)) else k: plain(v, memo)
                                    for k, v in node.items()}
        return mapping
    if isinstance(node, list):
        items = memo[id(node)] = [plain(v, memo) for v in node]
        return items
    if isinstance(node, bool):
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    if isinstance(node, TaggedScalar):  # `!!str 10`: round-trip mode keeps the tag, a spec wants the text
        return str(node.value)
    return node


def node_line(node: Any, key: Any = None) -> int:
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


def line_of(node: Any, loc: list[Any]) -> int:
    """The line of the deepest part of `loc` that exists in the document."""
    line = node_line(node)
    for part in loc:
        if isinstance(node, CommentedMap) and part in node:
            line, node = node_line(node, part), node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
            line, node = node_line(node, part), node[part]
        else:
            break
    return line
