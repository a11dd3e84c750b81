"""The bearer token of the API and of the controller's local socket (`axis.app.controller_socket`):
made on first start, kept in a file only its owner can read.

Anyone who can read the token can change the desired state of every host, so the file is
created with mode 0600 in the same `open` call that creates it (never written first and
chmod-ed after, which would leave it world-readable for a moment), and an existing token file
that others can read is refused, as ssh refuses a private key with loose permissions.
"""

from __future__ import annotations

import hmac
import os
import secrets
import stat
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the command line reads the token without loading the state DB's modules
    from axis.state import Location


class TokenError(Exception):
    """The token file cannot be made or trusted; the message says which file and why."""


def default_token_path(state: Location) -> Path:
    """`<state DB>.token` (PostgreSQL: `token` in its side directory): next to the data it guards,
    and one per state DB."""
    return state.side_file("token")


def ensure_token(path: Path) -> str:
    """The token in `path`, creating the file with a fresh token if there is none."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return read_token(path)
    except OSError as exc:
        raise TokenError(f"{path}: cannot create the token file: {exc.strerror}") from exc
    token = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(token + "\n")
    return token


def read_token(path: Path) -> str:
    """The token in an existing file; TokenError if missing, unreadable, empty or readable by others."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise TokenError(f"{path}: cannot read the token file: {exc}") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise TokenError(f"{path}: the token file is accessible by other users (mode {stat.S_IMODE(mode):o}); "
                         f"run `chmod 600 {path}` or delete it to get a new token")
    if not text:
        raise TokenError(f"{path}: the token file is empty; delete it to get a new token")
    return text


def token_matches(header: str | None, token: str) -> bool:
    """Whether an `Authorization` header carries the token (`Bearer <token>`), compared in
    constant time so the answer's timing says nothing about how much of a guess was right."""
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and same_token(given.strip(), token)


def same_token(given: str, token: str) -> bool:
    """`given` is the token, compared in constant time (the API's header and the socket's hello)."""
    return hmac.compare_digest(given.encode(), token.encode())
