"""Hypothesis strategies for hostile spec text (issue 16, item 5): alias bombs, numbers too large
for any field, deep nesting, bytes that are not UTF-8, NUL and other control characters, huge
strings, tags of values no field takes, and wide documents (many keys, documents, aliases or
items, around the loader's budgets), each placed in a real field of an otherwise valid object, so that the loader meets
them where a user (or an attacker with the API token) would put them.

The strategies build text from a few drawn numbers rather than drawing long texts character by
character: thousands of examples stay cheap to generate, and the loader's time is what the fuzz
measures.
"""

from __future__ import annotations

from hypothesis import strategies as st

#: Where a value can go: (kind, path of keys below the object). Every numeric, size, duration,
#: text, list and label field of the three kinds.
FIELDS: list[tuple[str, tuple[str, ...]]] = [
    ("Host", ("spec", "port")), ("Host", ("spec", "address")), ("Host", ("spec", "user")),
    ("Host", ("spec", "description")), ("Host", ("spec", "sudo")),
    ("Host", ("spec", "features", "swapfile", "size")), ("Host", ("spec", "features", "swapfile", "swappiness")),
    ("Host", ("spec", "features", "swapfile", "path")),
    ("Host", ("spec", "features", "panicRecovery", "panicSeconds")),
    ("Host", ("spec", "features", "watchdog", "timeoutSeconds")),
    ("Host", ("spec", "features", "diskCleanup", "retentionDays")),
    ("Host", ("metadata", "labels", "role")), ("Host", ("metadata", "name")),
    ("HostProfile", ("spec", "selector", "matchLabels", "gpu")),
    ("HostProfile", ("spec", "features", "swapfile", "size")),
    ("Claim", ("spec", "ttl")), ("Claim", ("spec", "task")), ("Claim", ("spec", "requires", "memory")),
    ("Claim", ("spec", "requires", "tools")), ("Claim", ("spec", "requires", "gpu")),
]
_REQUIRED = {"Host": ("address", "h.lan"), "Claim": ("task", "build it"), "HostProfile": None}


def place(kind: str, path: tuple[str, ...], value: str) -> str:
    """An object of `kind` with `value` (raw YAML, possibly several lines) at `path`.

    A multi-line value goes on the lines after its key, indented one level deeper, so block
    structures (deep block nesting, literal strings) land in the field too."""
    sections: dict[str, list[str]] = {"metadata": ["  name: fz"], "spec": []}
    required = _REQUIRED[kind]
    if required and path != ("spec", required[0]):
        sections["spec"].append(f"  {required[0]}: {required[1]}")
    if path == ("metadata", "name"):
        sections["metadata"] = []
    lines = sections[path[0]]
    for depth, key in enumerate(path[1:], start=1):
        pad = "  " * depth
        if depth < len(path) - 1:
            lines.append(f"{pad}{key}:")
        elif "\n" in value:
            lines.append(f"{pad}{key}:")
            lines.extend(f"{pad}  {line}" if line else line for line in value.split("\n"))
        else:
            lines.append(f"{pad}{key}: {value}")
    body = "".join(f"{name}:\n" + "".join(f"{line}\n" for line in rows) if rows else f"{name}: {{}}\n"
                   for name, rows in sections.items())
    return f"apiVersion: axis/v1\nkind: {kind}\n{body}"


fields = st.sampled_from(FIELDS)

# --- numbers ------------------------------------------------------------------------------------

_PREFIXES = ["", "", "", "-", "+", "0x", "0o", "0b", "0"]
_SUFFIXES = ["", "", "", "G", "Gi", "Ti", "kB", "TB", "d", "h", "m", "s", "1h", "e400", ".5", "_0", " G", "Pi"]


@st.composite
def huge_numbers(draw: st.DrawFn) -> str:
    """An integer of 19 to 6,000 digits (past SQLite's INTEGER, `datetime`, and Python's
    4,300-digit `int()` limit), with a sign, base prefix or unit, in any field."""
    kind, path = draw(fields)
    length = draw(st.sampled_from([19, 20, 24, 40, 308, 309, 400, 4300, 4301, 6000]) | st.integers(19, 6000))
    prefix, suffix = draw(st.sampled_from(_PREFIXES)), draw(st.sampled_from(_SUFFIXES))
    digit = draw(st.sampled_from("123456789"))
    body = ("1" if prefix == "0b" else digit) * length
    return place(kind, path, f"{prefix}{body}{suffix}")


# --- aliases ------------------------------------------------------------------------------------

@st.composite
def alias_bombs(draw: st.DrawFn) -> str:
    """Nested aliases, `width ** levels` nodes once expanded: a chain (the billion laughs), a
    chain of mappings through merge keys, or one anchor repeated thousands of times."""
    kind, path = draw(fields)
    shape = draw(st.sampled_from(["lists", "maps", "merge", "fan", "strings"]))
    levels, width = draw(st.integers(2, 12)), draw(st.integers(2, 12))
    if shape == "fan":  # one anchored list of `width * 100` items, aliased 50 to 1,000 times
        anchor = "[" + ", ".join(["lol"] * (width * 100)) + "]"
        count = draw(st.integers(50, 1000))
        return place(kind, path, f"[&a {anchor}, " + ", ".join(["*a"] * count) + "]")
    if shape == "strings":  # a long anchored string used many times: few nodes, many characters
        size, count = draw(st.integers(1000, 60_000)), draw(st.integers(2, 1000))
        return place(kind, path, f"[&s {'x' * size}, " + ", ".join(["*s"] * count) + "]")
    lines = []
    for level in range(levels):
        items = [f"*a{level - 1}" for _ in range(width)] if level else ["lol"] * width
        if shape == "lists":
            lines.append(f"a{level}: &a{level} [" + ", ".join(items) + "]")
        elif shape == "maps":
            lines.append(f"a{level}: &a{level} {{" + ", ".join(f"k{i}: {v}" for i, v in enumerate(items)) + "}")
        else:  # merge keys: each level merges the previous one and adds its own keys
            merged = f"<<: *a{level - 1}, " if level else ""
            lines.append(f"a{level}: &a{level} {{{merged}" + ", ".join(f"k{level}_{i}: [{', '.join(items)}]"
                                                                       for i in range(width)) + "}")
    return place(kind, path, "\n".join(lines))


# --- nesting ------------------------------------------------------------------------------------

@st.composite
def deep_nesting(draw: st.DrawFn) -> str:
    """Collections nested 30 to 5,000 deep (block style up to 300: its indentation grows with
    the square of the depth), balanced or not, in any field."""
    kind, path = draw(fields)
    style = draw(st.sampled_from(["flow-list", "flow-map", "flow-mixed", "block-map", "block-list"]))
    if style.startswith("block"):
        depth = draw(st.integers(30, 300))
        step = "- " if style == "block-list" else "k: "
        if style == "block-list":
            return place(kind, path, "\n".join("  " * i + "-" for i in range(depth)) + " x")
        return place(kind, path, "\n".join("  " * i + step.strip() for i in range(depth)) + " x")
    depth = draw(st.sampled_from([63, 64, 65, 100, 1000, 3000, 5000]) | st.integers(30, 5000))
    opener, closer = {"flow-list": ("[", "]"), "flow-map": ("{a: ", "}"), "flow-mixed": ("[{a: ", "}]")}[style]
    closed = draw(st.sampled_from([depth, depth, 0, depth // 2]))
    return place(kind, path, opener * depth + "x" + closer * closed)


# --- bytes and characters -----------------------------------------------------------------------

_BAD_UTF8 = [b"\xff", b"\xfe", b"\xc3\x28", b"\xa0\xa1", b"\xe2\x28\xa1", b"\xe2\x82", b"\xf0\x28\x8c\x28",
             b"\xed\xa0\x80", b"\xc0\xaf", b"\xf8\x88\x80\x80\x80", b"\x80", b"caf\xe9"]


@st.composite
def invalid_utf8(draw: st.DrawFn) -> bytes:
    """A valid object's bytes with 1 to 3 sequences that are not UTF-8 (stray continuation bytes,
    overlong forms, surrogates, Latin-1) inserted anywhere."""
    kind, path = draw(fields)
    data = bytearray(place(kind, path, draw(st.sampled_from(["x", "'quoted'", "\"dq\"", "[a, b]", "12G"]))).encode())
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(data)))
        data[at:at] = draw(st.sampled_from(_BAD_UTF8))
    return bytes(data)


_CONTROLS = [0x00, 0x01, 0x07, 0x08, 0x0B, 0x0C, 0x1B, 0x1F, 0x7F]


@st.composite
def control_characters(draw: st.DrawFn) -> str:
    """NUL and other control characters, raw in the text or written as escapes in a
    double-quoted value or key."""
    kind, path = draw(fields)
    code = draw(st.sampled_from(_CONTROLS))
    where = draw(st.sampled_from(["escaped-value", "escaped-key", "raw-value", "raw-anywhere"]))
    if where == "escaped-value":
        return place(kind, path, f'"a\\x{code:02x}b"')
    if where == "escaped-key":
        return place(kind, path, f'{{"k\\x{code:02x}": 1}}')
    if where == "raw-value":
        return place(kind, path, f"a{chr(code)}b")
    text = place(kind, path, "x")
    at = draw(st.integers(0, len(text)))
    return text[:at] + chr(code) + text[at:]


@st.composite
def huge_strings(draw: st.DrawFn) -> str:
    """Strings from just over a field's 64 KiB to 10 MB (past the 1 MiB file limit), plain,
    quoted or as a block literal, in any field."""
    kind, path = draw(fields)
    size = draw(st.sampled_from([65_537, 300_000, 1_000_000, 1_048_577, 3_000_000, 10_000_000]))
    style = draw(st.sampled_from(["plain", "quoted", "literal"]))
    if style == "literal":
        return place(kind, path, "|\n" + "\n".join(["y" * 1000] * (size // 1000 + 1)))
    text = "y" * size
    return place(kind, path, f'"{text}"' if style == "quoted" else text)


# --- tags ---------------------------------------------------------------------------------------

_TAGGED = ["!!binary aAAubGFu", "!!binary " + "eHh4" * 20_000, "!!omap [a: 1, a: 2]", "!!omap [a: 1]", "!!set {a, b}",
           "!!pairs [a: 1, a: 2]", "!!timestamp 2001-01-01", "!!python/object:os.system x",
           "!!python/name:os.system ''", "!local x", "!<tag:yaml.org,2002:binary> aGk=", "!!merge x", "!!value x"]


@st.composite
def tagged_values(draw: st.DrawFn) -> str:
    """A value with a tag no spec may use (binary data, ordered maps, sets, timestamps, Python
    objects, local tags), in any field, as a key, or inside a list."""
    kind, path = draw(fields)
    value = draw(st.sampled_from(_TAGGED))
    shape = draw(st.sampled_from(["value", "in-list", "key"]))
    if shape == "in-list":
        value = f"[ok, {value}]"
    elif shape == "key":
        value = f"{{? {value} : 1}}"
    return place(kind, path, value)


# --- wide documents -----------------------------------------------------------------------------

@st.composite
def wide_documents(draw: st.DrawFn) -> str:
    """Documents that are wide, not deep: many keys (block or flow), many documents, many aliases
    of one anchor, long flow lists, many comment lines; from well under the loader's budgets
    (10,000 nodes, 1,000 documents, 20,000 lines) to several times over them."""
    count = draw(st.sampled_from([100, 999, 1000, 1001, 4_999, 5_001, 9_999, 10_001, 20_000, 60_000])
                 | st.integers(10, 60_000))
    shape = draw(st.sampled_from(["block-keys", "flow-keys", "documents", "aliases", "flow-list", "comments"]))
    if shape == "documents":
        one = "---\napiVersion: axis/v1\nkind: Claim\nmetadata: {{name: c{i}}}\nspec: {{task: t}}\n"
        return "".join(one.format(i=i) for i in range(min(count, 3_000)))
    if shape == "comments":
        return place("Host", ("spec", "description"), "x") + "# a comment\n" * count
    kind, path = draw(fields)
    if shape == "block-keys":
        return place(kind, path, "\n".join(f"k{i}: v" for i in range(min(count, 25_000))))
    if shape == "flow-keys":
        return place(kind, path, "{" + ", ".join(f"k{i}: v" for i in range(count)) + "}")
    if shape == "aliases":
        return place(kind, path, "[&a x, " + ", ".join(["*a"] * count) + "]")
    return place(kind, path, "[" + ", ".join(["1"] * count) + "]")
