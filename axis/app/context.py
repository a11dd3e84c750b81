"""What every operation needs, passed explicitly: the state DB location and how hosts are reached."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from axis.drivers.connector import SshOptions
from axis.state.dbapi import direct_snapshot
from axis.state.location import Location
from axis.state.snapshot import Snapshot

if TYPE_CHECKING:
    from axis.drivers.connector import Connector
    from axis.state.db import Database


class AppError(Exception):
    """An error for the user, whichever front end shows it: one line (exit 1 on the command
    line, a tool or HTTP error in the API)."""


class NotFound(AppError, LookupError):
    """A named object that is not in the state DB: `error: ...` on the command line, 404 over
    HTTP, a tool error over MCP."""


@dataclass
class AppContext:
    """The state DB (opened on first use) and how hosts are reached, for one command or server.

    `connector` opens every transport the operations use: SSH with the command line's options,
    or whatever the composition root's caller passes instead (tests: fake hosts). `state` may be
    given as a path or URL too: it is made a Location here."""

    state: Location
    debug: bool = False
    connector: Connector = field(default_factory=SshOptions)
    _db: Database | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.state = Location.of(self.state)

    def db(self) -> Database:
        """The state DB through SQLAlchemy, opened (created, upgraded) on first use: imported
        only by the commands that write or need the ORM; the reading ones use `snapshot`."""
        if self._db is None:
            from axis.state.db import Database

            self._db = Database(self.state)
        return self._db

    @contextmanager
    def snapshot(self) -> Iterator[Snapshot]:
        """One consistent read for the documents (`axis get`, `describe`, `place`): plain DB-API
        on a connection of its own, without SQLAlchemy, unless the DB does not exist yet or is
        not at the schema's head: then `db()` creates or upgrades it, as every command always did."""
        if self._db is None:
            with direct_snapshot(self.state) as snap:
                if snap is not None:
                    yield snap
                    return
        with self.db().snapshot() as snap:
            yield snap
