"""Where the state is: a SQLite file (the default) or a PostgreSQL database named by a URL.

`--state`/`AXIS_STATE` take either. Every message and log line shows a location through `str()`,
which never carries a password (`postgresql://axis:***@db/axis`): a URL's password stays in
`sqlalchemy_url`, which only the engine sees. Without one in the URL, libpq finds it itself
(PGPASSWORD, ~/.pgpass).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

#: The URL schemes that name a PostgreSQL database; all are opened with psycopg 3.
POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")
SQLITE = "sqlite"
POSTGRESQL = "postgresql"
#: libpq's query parameters that hold a secret: shown as `***`, as the userinfo's password is.
SECRET_PARAMETERS = frozenset({"password", "sslpassword"})


def _scheme(text: str) -> str | None:
    """The URL scheme of `text`, None for a path (which may hold ':' but not a scheme's '://')."""
    head, sep, _ = text.partition("://")
    return head.lower() if sep and re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", head) else None


@dataclass(frozen=True, repr=False)
class Location:
    """A state DB: exactly one of `path` (SQLite) and `url` (PostgreSQL, as given)."""

    path: Path | None = None
    url: str | None = None

    def __post_init__(self) -> None:
        if (self.path is None) == (self.url is None):
            raise ValueError("a state location is a path or a URL, not both or neither")
        if self.url is not None:
            parts = urlsplit(self.url)
            if not parts.path.strip("/"):
                raise ValueError(f"{self}: the URL names no database (postgresql://user@host/DATABASE)")
            try:
                parts.port  # noqa: B018  # parsed here, so a bad one is a usage error, not a crash later
            except ValueError:
                raise ValueError(f"{self}: the port is not a number from 0 to 65535; for several hosts (libpq's "
                                 "failover list) write postgresql://user@/DATABASE?host=h1,h2&port=p1,p2") from None

    @classmethod
    def of(cls, given: Path | str | Location) -> Location:
        """A location from a path, a path or URL string, or a location (returned as is)."""
        if isinstance(given, Location):
            return given
        if isinstance(given, Path):
            return cls(path=given.expanduser())
        scheme = _scheme(given)
        if scheme in POSTGRES_SCHEMES:
            return cls(url=given)
        if scheme is not None:  # sqlite:///..., mysql://...: not a file name either
            raise ValueError(f"{scheme}:// is not a state DB axis can use: give a SQLite file's path, "
                             "or a postgresql://user@host/db URL")
        return cls(path=Path(given).expanduser())

    @property
    def backend(self) -> str:
        """"sqlite" or "postgresql"."""
        return SQLITE if self.path is not None else POSTGRESQL

    def __str__(self) -> str:
        if self.path is not None:
            return str(self.path)
        assert self.url is not None
        parts = urlsplit(self.url)
        query = "&".join(f"{key}=***" if sep and unquote(key).lower() in SECRET_PARAMETERS else f"{key}{sep}{value}"
                         for key, sep, value in (item.partition("=") for item in parts.query.split("&")))
        userinfo, _, hostport = parts.netloc.rpartition("@")
        netloc = f"{userinfo.split(':', 1)[0]}:***@{hostport}" if ":" in userinfo else parts.netloc
        return urlunsplit(parts._replace(netloc=netloc, query=query))

    def __repr__(self) -> str:
        return f"Location({str(self)!r})"  # a traceback or debug print shows no password either

    @property
    def sqlalchemy_url(self) -> str:
        """The URL SQLAlchemy opens: `sqlite:///path`, or the given URL with the psycopg driver
        (password included: never show it)."""
        if self.path is not None:
            return f"sqlite:///{self.path}"
        assert self.url is not None
        return "postgresql+psycopg://" + self.url.split("://", 1)[1]

    @property
    def libpq_url(self) -> str:
        """The URL psycopg opens without SQLAlchemy (`axis.state.dbapi`): the given one under
        libpq's own scheme (password included: never show it)."""
        assert self.url is not None
        return "postgresql://" + self.url.split("://", 1)[1]

    @property
    def side_dir(self) -> Path:
        """Where local side files live (git source caches, the API token, SQLite's lock files):
        beside a SQLite file; for PostgreSQL `~/.axis/pg/<host>_<port>_<db>/`, one per database."""
        if self.path is not None:
            return self.path.absolute().parent
        assert self.url is not None
        parts = urlsplit(self.url)
        query_host = parse_qs(parts.query).get("host", [""])[0]
        host = parts.hostname or query_host or os.environ.get("PGHOST", "") or "local"
        port = str(parts.port or parse_qs(parts.query).get("port", [""])[0] or 5432)
        name = "_".join(re.sub(r"[^A-Za-z0-9.-]+", "-", part).strip("-") or "-"
                        for part in (host, port, parts.path.strip("/")))
        return Path.home() / ".axis" / "pg" / name

    def side_file(self, suffix: str) -> Path:
        """A side file: `<db file>.<suffix>` beside a SQLite DB (as axis always named them),
        `<side_dir>/<suffix>` for PostgreSQL."""
        if self.path is not None:
            return self.side_dir / f"{self.path.name}.{suffix}"
        return self.side_dir / suffix


def state_location(explicit: str | Path | None = None) -> Location:
    """`--state`, then `AXIS_STATE`, then `~/.axis/state.db`."""
    if explicit:
        return Location.of(explicit)
    env = os.environ.get("AXIS_STATE")
    if env:
        return Location.of(env)
    return Location(path=Path.home() / ".axis" / "state.db")
