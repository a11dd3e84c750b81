"""`axis import ssh-config`: a Host for each alias of an ssh_config, resolved by OpenSSH itself.

The aliases are the names of `Host` lines without wildcards (`*`, `?`) or negation (`!`), in the
file and in every file it `Include`s (globs expanded; `~` and a relative path are under the login
user's home from the passwd database, as OpenSSH reads a user's config: not under $HOME). Each
alias is then resolved by `ssh -F FILE -G ALIAS`, FILE being the ~/.ssh/config of that same home
when none is given: the aliases and their resolution come from one file whatever $HOME says
(OpenSSH never reads $HOME's), and /etc/ssh/ssh_config is left out (`-F` skips it), as asyncssh,
which axis connects with, leaves it out. OpenSSH evaluates Include, Match and ProxyJump itself and
connects nowhere. The spec keeps the alias as its address (axis reads the same ssh_config when it
connects) and takes the user and port OpenSSH resolved where they are not OpenSSH's defaults (the
login name, 22), so axis logs in as `ssh ALIAS` does: `ssh -G` prints both always, and pinning a
default in the spec would override a User or Port added to ssh_config later. The resolved host
name and jump host are said in the description.

Because the address is an alias, axis must read the same file when it connects: an ssh_config
other than the one axis reads by default ($HOME's ~/.ssh/config) is named to every later command,
`axis --ssh-config FILE ...` (or AXIS_SSH_CONFIG); `connect_option` says when.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import pwd
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

from axis.adopt.drafts import Draft, ImportFailed, Problem, axis_name, named, unique

#: The most Include levels followed, as OpenSSH's READCONF_MAX_DEPTH.
MAX_DEPTH = 16
#: The port OpenSSH connects to when ssh_config sets none.
DEFAULT_PORT = 22
#: Seconds `ssh -G` may take for one alias (a `Match exec` runs a command).
SSH_G_TIMEOUT = 30.0


#: A config line: its keyword, then `=` or white space (or both), then the arguments.
_LINE = re.compile(r"(?P<keyword>[^\s=]+)\s*(?:=\s*|\s+|$)(?P<rest>.*)", re.DOTALL)
#: How OpenSSH names a bad line of a config file: `FILE: line N: MESSAGE` (`FILE line N:` for some).
_AT_LINE = re.compile(r"(?P<file>[^\n]+?):? line (?P<line>\d+): (?P<message>[^\n]+)")


def login_home() -> Path:
    """The home directory OpenSSH uses: the passwd entry of the user running it, never $HOME."""
    return Path(pwd.getpwuid(os.getuid()).pw_dir)


def login_name() -> str:
    """The user OpenSSH logs in as when ssh_config sets none: the passwd name of the user running it."""
    return pwd.getpwuid(os.getuid()).pw_name


def default_file() -> Path:
    """The user's ssh_config, as `ssh` without -F reads it."""
    return login_home() / ".ssh" / "config"


def connect_option(file: Path) -> str | None:
    """`--ssh-config FILE` (quoted for a shell) when axis, connecting later without the option,
    would read another file than `file`: asyncssh reads $HOME's ~/.ssh/config; else None."""
    if file.absolute() == (Path.home() / ".ssh" / "config").absolute():
        return None
    return f"--ssh-config {shlex.quote(str(file))}"


def included(pattern: str) -> str:
    """An Include argument as OpenSSH expands it in a user's config: `~/` is the login home, `~user/`
    that user's home, and a relative path is under the login home's .ssh (glob characters kept)."""
    if pattern == "~" or pattern.startswith("~/"):
        pattern = str(login_home()) + pattern[1:]
    elif pattern.startswith("~"):
        pattern = os.path.expanduser(pattern)  # `~user`: the passwd database, as OpenSSH's tilde_expand
    return pattern if os.path.isabs(pattern) else str(login_home() / ".ssh" / pattern)


def aliases(path: Path, problems: list[Problem], depth: int = 0) -> list[tuple[str, str, int]]:
    """Every alias of `path` and the files it includes, in order, each with its file and line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(str(path), 0, f"cannot read: {getattr(exc, 'strerror', None) or exc}"))
        return []
    found: list[tuple[str, str, int]] = []
    for number, raw in enumerate(lines, 1):
        keyword, args = _split(raw)
        if keyword == "host":
            found += [(word, str(path), number) for word in args if not any(c in word for c in "*?!")]
        elif keyword == "include":
            if depth >= MAX_DEPTH:
                problems.append(Problem(str(path), number, f"Include nested deeper than {MAX_DEPTH} files"))
                continue
            for pattern in args:
                for path_found in sorted(glob.glob(included(pattern))):
                    found += aliases(Path(path_found), problems, depth + 1)
    return found


def _split(raw: str) -> tuple[str, list[str]]:
    """An ssh_config line as its lowercased keyword and its arguments (quotes honoured,
    `Keyword=value` too); ("", []) for blank and comment lines."""
    line = _LINE.fullmatch(raw.strip())
    if line is None or line["keyword"].startswith("#"):
        return "", []
    keyword, rest = line["keyword"], line["rest"]
    try:
        return keyword.lower(), shlex.split(rest, comments=True)
    except ValueError:  # an unbalanced quote: OpenSSH reports it when `ssh -G` reads the line
        return keyword.lower(), rest.split()


def resolve(alias: str, config: Path) -> dict[str, str] | str:
    """`ssh -F config -G alias` as a mapping of the first value of each keyword, or OpenSSH's error text."""
    command = ["ssh", "-F", str(config), "-G", "--", alias]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=SSH_G_TIMEOUT,
                              stdin=subprocess.DEVNULL, check=False)
    except FileNotFoundError:
        return "the OpenSSH client (`ssh`) is not installed"
    except subprocess.TimeoutExpired:
        return f"`ssh -G` took more than {SSH_G_TIMEOUT:.0f} s (a Match exec that does not end?)"
    if done.returncode != 0:
        return done.stderr.strip() or f"`ssh -G` exited {done.returncode}"
    out: dict[str, str] = {}
    for line in done.stdout.splitlines():
        key, _, value = line.partition(" ")
        out.setdefault(key.lower(), value)
    return out


def import_ssh_config(config: Path | None, match: str | None = None, *, sudo: bool = False) -> list[Draft]:
    """A Host per alias of `config` (default: `default_file()`) that matches the glob `match`;
    ImportFailed (file:line) for an alias that is no axis name or OpenSSH refuses."""
    file = config or default_file()
    problems: list[Problem] = []
    found = aliases(file, problems)
    seen: set[str] = set()
    drafts = []
    for alias, path, number in found:
        if alias in seen or (match is not None and not fnmatch.fnmatchcase(alias, match)):
            continue
        seen.add(alias)
        try:
            name = axis_name(alias)
        except ValueError as exc:
            problems.append(Problem(path, number, str(exc), "Host"))
            continue
        resolved = resolve(alias, file)
        if isinstance(resolved, str):
            refused = _AT_LINE.match(resolved)
            problem = (Problem(refused["file"], int(refused["line"]), f"OpenSSH refuses it: {refused['message']}")
                       if refused else Problem(path, number, f"ssh -G {alias}: {' '.join(resolved.split())}", "Host"))
            if problem not in problems:  # a bad line stops `ssh -G` for every alias alike
                problems.append(problem)
            continue
        drafts.append(named(_host(name, alias, resolved, path, number, sudo), alias))
    if not found and not problems:
        problems.append(Problem(str(file), 0, "no Host alias without wildcards in this file or its Includes"))
    elif found and not seen:  # an import of nothing is a mistyped --match, not a success
        problems.append(Problem(str(file), 0, f"no alias matches {match!r}"))
    problems += unique(drafts)
    if problems:
        raise ImportFailed(problems)
    return drafts


def _host(name: str, alias: str, resolved: dict[str, str], path: str, line: int, sudo: bool) -> Draft:
    spec: dict[str, Any] = {"address": alias}
    user, port = resolved.get("user"), resolved.get("port", str(DEFAULT_PORT))
    if user and user != login_name():
        spec["user"] = user
    if port.isdigit() and int(port) != DEFAULT_PORT:
        spec["port"] = int(port)
    spec["sudo"] = sudo
    target = resolved.get("hostname", alias)
    jump = resolved.get("proxyjump", "none")
    spec["description"] = f"ssh {alias}: {target}" + (f" via {jump}" if jump and jump != "none" else "")
    note = (f"user and port as `ssh -G {alias}` resolves them, left out where they are OpenSSH's defaults "
            f"({login_name()}, {DEFAULT_PORT}): there ssh_config decides when axis connects")
    return Draft("Host", name, spec, path, line, notes=[note])
