"""What every operation needs, passed explicitly: the state DB location and how hosts are reached."""

from __future__ import annotations

from dataclasses import dataclass, field

from axis.drivers.connector import Connector, SshOptions
from axis.state import Database, Location


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
        if self._db is None:
            self._db = Database(self.state)
        return self._db
