"""Characters that must never reach a terminal unescaped, and how to show them.

Spec text and what axis prints (facts and messages from hosts included) end up on the terminal
of whoever runs `axis get` or reads a log. There a C0 or C1 control starts an escape sequence
(ESC, or the one-character CSI U+009B) that can move the cursor, rewrite earlier lines or set
the window title, and a bidirectional override (U+202E) shows text in another order than it
is stored (a hostname that reads as another). Tab, newline and carriage return are plain text.
The loader refuses these characters in every spec string; the CLI's tables and the spec error
lines show them escaped (`\\x9b`, `\\u202e`) instead of raw.
"""

from __future__ import annotations

import re

#: Unicode category Cc but tab, newline and CR (C0, DEL, C1), and the bidi controls of category
#: Cf: the Arabic letter mark, the LRM/RLM marks, the embeddings and overrides, the isolates.
UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def first_unsafe(text: str) -> str | None:
    """The first character of `text` that `UNSAFE` refuses, or None."""
    found = UNSAFE.search(text)
    return found.group() if found else None


def describe_unsafe(char: str) -> str:
    """What kind of character `char` (matched by UNSAFE) is, for an error message."""
    return "control character" if ord(char) < 0xA0 else "bidirectional formatting character"


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str) -> str:
    """`text` with every UNSAFE character written as an escape (`\\x1b`, `\\u202e`): safe to
    print on a terminal, and still telling the reader what is there."""
    return UNSAFE.sub(_escape, text)
