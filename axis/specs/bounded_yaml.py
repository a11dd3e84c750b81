"""A round-trip YAML reader with budgets, so that no spec text can make the loader slow or crash.

ruamel.yaml keeps an alias as a reference to the anchored node, so *reading* a "billion laughs"
document is cheap; every consumer that walks the data as a tree (turning it into plain values,
pydantic, JSON for the state DB) then expands it exponentially: 464 bytes took 15 s and 309 MB.
Like cfn-lint and serde-yaml, we count what the data will be once expanded while it is
composed, in O(1) per alias (each anchored node remembers its expanded size), and refuse the
document at the alias that passes the budget, before anything walks it. More limits keep the
rest linear and recursion-free: the nesting depth (aliases included), the flow nesting the
scanner tracks (its stale-key check is quadratic in it: 3,000 `[` took 3 s), the digits of an
integer (Python's str() and int() raise past 4,300), and the size of the text itself
(`MAX_SPEC_BYTES` and `MAX_LINES`, checked by the loader before parsing).

The budgets are also what bound the time: ruamel is pure Python and spends ~40 µs on each node
(~60 µs on each node of small documents, ~4 µs on each comment line) on an idle 2-core machine,
so a file of MAX_NODES nodes, the largest it reads, is answered in about 0.4 s; the old 100,000
nodes took 5-7 s. That is with the plain scanner (round-trip's comment gathering cost a third
more), the loader's properties cached and the garbage collector paused: CI, busy, measured up
to 0.99 s of CPU against a 1 s budget before those. A fleet of 200 hosts and 50 claims written like the examples is ~8,800 nodes
(measured on the homelab example's hosts and claims repeated: 8,775; tests/test_spec_text.py).

Only the tags of plain JSON values are read (`!!str`, `!!int`, ...): `!!binary` made bytes that
passed every text check (a NUL in an address), `!!omap`, `!!set`, `!!timestamp` and local tags
make values no field takes, and `!!omap` with a repeated key crashed ruamel's constructor.

Every refusal is a `Refused`, a MarkedYAMLError carrying the line it happened at, and so
is any value the constructor cannot build (a date that does not exist, `!!bool maybe`) and any
other exception raised while the text is parsed or a node composed or built (a bug of ruamel's,
such as its `assert` on a repeated `!!omap` key, is a spec error at that line, never a crash).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.composer import Composer
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent, ScalarEvent
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.parser import RoundTripParser
from ruamel.yaml.scanner import Scanner

#: Largest spec file or request body read at all (a fleet's specs are a few KiB).
MAX_SPEC_BYTES = 1 << 20
#: Lines a file may have (comment and blank lines cost time but hold no node).
MAX_LINES = 20_000
#: Documents a file may hold (`--- ~` repeated is one node each, but costs more than one).
MAX_DOCUMENTS = 1_000
#: Nodes (mappings, sequences, scalars, keys) a file may hold once its aliases are expanded.
MAX_NODES = 10_000
#: Scalar characters a file may hold once its aliases are expanded: an anchored 500 KiB string
#: used 100 times is 50 MB of JSON in the state DB, although it is only 100 nodes.
MAX_CHARS = 4 * MAX_SPEC_BYTES
#: Nesting depth of collections, aliases expanded (a spec needs about 6).
MAX_DEPTH = 64
#: Longest integer read (no field takes more than 19 digits; longer ones still reach the field's
#: own check, which names the field): Python's str() and int() stop at 4,300 digits.
MAX_INT_DIGITS = 1000
_MAX_INT_BITS = (10**MAX_INT_DIGITS - 1).bit_length()  # the same bound for 0x, 0o and 0b text
#: The only explicit tags a spec may use: those of JSON's values (`!` means text as well).
ALLOWED_TAGS = frozenset(f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "seq", "map"))


class Refused(MarkedYAMLError):
    """Valid YAML that no spec can be (too large, too deep, a value that cannot be built),
    refused at `problem_mark`; the loader prints its message without "invalid YAML"."""


class _Scanner(Scanner):
    """Refuses flow collections nested deeper than MAX_DEPTH as the scanner meets them.

    Not ruamel's RoundTripScanner: that one gathers the comments around every token (a third of
    the loader's time), and a spec's comments are never read back; line numbers come from the
    nodes' marks either way."""

    reader = cached_property(lambda self: self.loader.reader)  # ruamel's is a property, per call

    def fetch_flow_collection_start(self, TokenClass: Any, to_push: str) -> None:  # noqa: N803 - ruamel's name
        if self.flow_level >= MAX_DEPTH:
            raise Refused(None, None, f"nested deeper than {MAX_DEPTH} levels; a spec needs far fewer",
                          self.reader.get_mark())
        super().fetch_flow_collection_start(TokenClass, to_push)


def _guarded(method: Any) -> Any:
    """`method` of the parser, with any exception that is not a YAML error made a spec error."""

    def guarded(self: _Parser, *args: Any) -> Any:
        try:
            return method(self, *args)
        except YAMLError:
            raise
        except Exception as exc:  # noqa: BLE001 - not BaseException: Ctrl-C and exit still stop the load
            raise self._unexpected(exc) from exc
    return guarded


class _Parser(RoundTripParser):
    """The composer's only way to the parser and scanner: any exception of theirs that is not a
    YAML error (a bug of ruamel's) is a spec error where the reader has got to.

    These run three times per node: each is guarded in one frame (no helper call, no `super()`)."""

    scanner = cached_property(lambda self: self.loader.scanner)

    check_event = _guarded(RoundTripParser.check_event)
    peek_event = _guarded(RoundTripParser.peek_event)
    get_event = _guarded(RoundTripParser.get_event)

    def _unexpected(self, exc: Exception) -> Refused:
        """`exc` at the next token, or where the reader is if the scanner cannot say (it may
        stop at the end of the line before that token)."""
        try:
            mark = self.scanner.peek_token().start_mark
        except Exception:  # noqa: BLE001 - the scanner may be what failed
            mark = self.scanner.reader.get_mark()
        return _unexpected(exc, "read the text here", mark)


class _Composer(Composer):
    """Counts the expanded size of the stream (all documents) and refuses what passes a budget."""

    def __init__(self, loader: Any = None) -> None:
        super().__init__(loader)
        self.warn_double_anchors = False  # legal YAML; a Python warning on stderr is not an error line
        self.documents = 0
        self.nodes = 0
        self.chars = 0
        self.deepest = 0
        self._anchored: dict[int, tuple[int, int, int]] = {}  # id(node) -> nodes, chars, height

    # ruamel's are properties that look the loader up on every event; one loader reads one text
    parser = cached_property(lambda self: self.loader.parser)
    resolver = cached_property(lambda self: self.loader.resolver)

    def compose_document(self) -> Any:
        self.documents += 1
        if self.documents > MAX_DOCUMENTS:
            raise Refused(None, None, f"more than {MAX_DOCUMENTS:,} documents in one file; split it into several files",
                          self.parser.peek_event().start_mark)
        self._anchored = {}  # aliases refer to this document's anchors only; ids of freed nodes are reused
        return super().compose_document()

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.parser.peek_event()
        try:
            return self._compose_node(event, parent, index)
        except YAMLError:
            raise
        except Exception as exc:  # noqa: BLE001 - not BaseException: Ctrl-C and exit still stop the load
            raise _unexpected(exc, "read this value", event.start_mark) from exc

    def _compose_node(self, event: Any, parent: Any, index: Any) -> Any:
        tag = getattr(event, "tag", None)
        if tag is not None and tag != "!" and str(tag) not in ALLOWED_TAGS:
            raise Refused(None, None, f"tag {_shown_tag(str(tag))} is not allowed in a spec: only text, numbers, "
                          "booleans, null, lists and mappings (write the value without a tag)", event.start_mark)
        if isinstance(event, AliasEvent):
            node = super().compose_node(parent, index)
            size = self._anchored.get(id(node))
            if size is None:
                raise Refused(None, None, f"alias *{event.anchor} refers to a node that contains it",
                              event.start_mark)
            self._charge(*size, event.start_mark, f"alias *{event.anchor}")
            return node
        if self.depth + 1 > MAX_DEPTH:
            raise Refused(None, None, f"nested deeper than {MAX_DEPTH} levels; a spec needs far fewer",
                          event.start_mark)
        before, outer = (self.nodes, self.chars), self.deepest
        self.deepest = self.depth + 1
        self._charge(1, len(event.value) if isinstance(event, ScalarEvent) else 0, 0, event.start_mark, "this node")
        node = super().compose_node(parent, index)
        if event.anchor is not None:
            self._anchored[id(node)] = (self.nodes - before[0], self.chars - before[1], self.deepest - self.depth)
        self.deepest = max(outer, self.deepest)
        return node

    def _charge(self, nodes: int, chars: int, height: int, mark: Any, what: str) -> None:
        self.nodes += nodes
        self.chars += chars
        self.deepest = max(self.deepest, self.depth + height)
        if self.nodes > MAX_NODES and what == "this node":  # no alias: the file itself is that large
            raise Refused(None, None, f"more than {MAX_NODES:,} nodes (mappings, lists and values) in one file; "
                          "split it into several files", mark)
        if self.nodes > MAX_NODES:
            raise Refused(None, None, f"{what} makes more than {MAX_NODES:,} nodes once aliases are expanded "
                          "(an alias bomb?); split the file or use fewer nested aliases", mark)
        if self.chars > MAX_CHARS:
            raise Refused(None, None, f"{what} makes more than {MAX_CHARS:,} characters of text once aliases "
                          "are expanded; use fewer aliases of long strings", mark)
        if self.deepest > MAX_DEPTH:
            raise Refused(None, None, f"{what} nests deeper than {MAX_DEPTH} levels once aliases are "
                          "expanded; a spec needs far fewer", mark)


class _Constructor(RoundTripConstructor):
    """A value ruamel cannot build (`2001-02-30`, `!!bool x`, an integer of more than 4,300
    digits) is an error at its line, not a ValueError or KeyError from inside the constructor."""

    def construct_non_recursive_object(self, node: Any, tag: Any = None) -> Any:
        pending = len(self.state_generators)
        try:
            data = super().construct_non_recursive_object(node, tag)
        except YAMLError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure to build a value is the value's error
            raise _cannot_build(node, tag, exc) from None
        if len(self.state_generators) > pending:  # a mapping or list filled in later, outside this call
            self.state_generators[-1] = self._guarded(self.state_generators[-1], node, tag)
        return data

    def _guarded(self, generator: Any, node: Any, tag: Any) -> Any:
        """`generator` (the rest of a collection's construction) with its failures at `node`'s line."""
        try:
            yield from generator
        except YAMLError:
            raise
        except Exception as exc:  # noqa: BLE001 - as in construct_non_recursive_object
            raise _cannot_build(node, tag, exc) from None


    def construct_yaml_int(self, node: ScalarNode) -> Any:
        """Integers past MAX_INT_DIGITS are refused here: `0x` and `0b` text builds them
        without `int()`'s limit, and then every str() or repr() of them raised ValueError."""
        text = str(node.value)
        digits = sum(c.isalnum() for c in text) - (2 if text.lstrip("+-")[:2].lower() in ("0x", "0o", "0b") else 0)
        if digits > MAX_INT_DIGITS or abs(int(value := super().construct_yaml_int(node))).bit_length() > _MAX_INT_BITS:
            raise Refused(None, None, f"number of {len(text):,} characters is larger than any field takes "
                          f"(at most {MAX_INT_DIGITS:,} digits are read)", node.start_mark)
        return value


_Constructor.add_constructor("tag:yaml.org,2002:int", _Constructor.construct_yaml_int)


def _cannot_build(node: Any, tag: Any, exc: Exception) -> Refused:
    """The error for a value the constructor failed on: a ValueError and its kin say what is
    wrong with the value; anything else (a bug of ruamel's) is named by its type."""
    if not isinstance(exc, (ArithmeticError, LookupError, TypeError, ValueError)):
        return _unexpected(exc, "build this value", node.start_mark)
    shown = str(node.value) if isinstance(node, ScalarNode) else type(node).__name__
    shown = shown if len(shown) <= 40 else f"{shown[:30]}…({len(shown):,} characters)"
    kind = str(tag or node.tag).rpartition(":")[2] or "a value"
    return Refused(None, None, f"cannot read {shown!r} as {kind}: {_first_clause(exc)}", node.start_mark)


def _unexpected(exc: Exception, doing: str, mark: Any) -> Refused:
    """An exception that is not a YAML error, named by its type, at `mark`."""
    detail = _first_clause(exc) if str(exc) else "no message"
    return Refused(None, None, f"the YAML reader failed to {doing} ({type(exc).__name__}: {detail}); "
                   "write it more simply", mark)


def _shown_tag(tag: str) -> str:
    """`!!binary` for YAML's own tags, the tag as written (cut when long) for the others."""
    tag = tag.replace("tag:yaml.org,2002:", "!!", 1)
    return tag if len(tag) <= 40 else f"{tag[:30]}…"


def _first_clause(exc: Exception) -> str:
    """An exception's text up to its first `;` (Python's int-digits message goes on about sys)."""
    return str(exc).split(";")[0] or type(exc).__name__


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while a text is read: reading allocates ~10 objects
    per node and keeps them all, so the collector's passes (which also walk the whole process's
    heap, large in a server or a test run) find nothing; ~10% of a wide file's time. The state it
    was in is restored, so nesting or a caller that had it off is unaffected."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def bounded_yaml() -> YAML:
    """A fresh round-trip loader with the limits above (one per text: the budget is per file)."""
    yaml = YAML(typ="rt")
    yaml.Scanner = _Scanner
    yaml.Parser = _Parser
    yaml.Composer = _Composer
    yaml.Constructor = _Constructor
    return yaml


__all__ = ["ALLOWED_TAGS", "Refused", "collector_paused", "MAX_CHARS", "MAX_DEPTH", "MAX_DOCUMENTS", "MAX_INT_DIGITS", "MAX_LINES",
           "MAX_NODES", "MAX_SPEC_BYTES", "bounded_yaml"]
