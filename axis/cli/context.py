"""What every command needs, passed explicitly through typer's context: the state DB location."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import typer

from axis.drivers.connector import SshOptions
from axis.state import Database, state_path


class CliError(Exception):
    """An error for the user: printed as one line (or one line per problem), exit code 1."""


@dataclass
class AppContext:
    state: Path
    debug: bool = False
    ssh: SshOptions = field(default_factory=SshOptions)
    _db: Database | None = field(default=None, repr=False)

    def db(self) -> Database:
        if self._db is None:
            self._db = Database(self.state)
        return self._db


def app_context(ctx: typer.Context) -> AppContext:
    obj = ctx.find_root().obj
    if not isinstance(obj, AppContext):  # a command invoked without the root callback (tests)
        obj = AppContext(state=state_path())
        ctx.find_root().obj = obj
    return obj
