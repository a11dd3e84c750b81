"""The state DB: desired objects, observed facts, feature status, leases and events (SQLite in
WAL mode by default, or PostgreSQL).

`Database` (SQLAlchemy's engine and sessions) is imported on first use (PEP 562): the commands
that only read the state go through plain DB-API (`axis.state.snapshot`) and never import it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from axis.state.errors import StateError
from axis.state.location import Location, state_location

if TYPE_CHECKING:
    from axis.state.db import Database

__all__ = ["Database", "Location", "StateError", "state_location"]


def __getattr__(name: str) -> Any:
    if name == "Database":
        from axis.state.db import Database
        return Database
    raise AttributeError(f"module 'axis.state' has no attribute {name!r}")
