"""The shell texts axis sends to hosts, kept as `.sh` files shipped inside the package.

Keeping them as files (package data, see pyproject's `[tool.setuptools.package-data]`) lets
shellcheck read exactly what is sent, with its own line numbers, and keeps hundreds of lines of
shell out of Python string literals with doubled braces. A file is read with
`importlib.resources`, so it is found in a wheel as in a checkout.

Values go into a text only through `fill`: each `@NAME@` placeholder is replaced in one pass,
so a value is never searched for placeholders again, and the caller quotes every value
(`shlex.quote`) or checks it against a strict rule before it gets there.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from importlib.resources import files

#: The first line of a shipped file that has no `#!` line of its own: it tells shellcheck which
#: shell reads the file. It is the file's, not the script's: `read_shell_file` drops it.
SHELL_DIRECTIVE = "# shellcheck shell=sh\n"


def read_shell_file(package: str, name: str) -> str:
    """The text of the shipped file `name` in `package`, without its `SHELL_DIRECTIVE` line."""
    return files(package).joinpath(name).read_text(encoding="utf-8").removeprefix(SHELL_DIRECTIVE)


def fill(template: str, values: Mapping[str, str]) -> str:
    """`template` with every placeholder (a key of `values`, e.g. `@DAYS@`) replaced by its value.

    Raises `ValueError` when a placeholder is not in the template: a renamed placeholder would
    otherwise leave its value out silently."""
    missing = [key for key in values if key not in template]
    if missing:
        raise ValueError(f"placeholders not in the shell template: {', '.join(missing)}")
    return re.sub("|".join(re.escape(key) for key in values), lambda m: values[m.group(0)], template)
