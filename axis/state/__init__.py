"""The state DB: desired objects, observed facts, feature status, leases and events (SQLite in
WAL mode by default, or PostgreSQL)."""

from axis.state.db import Database, StateError
from axis.state.location import Location, state_location

__all__ = ["Database", "Location", "StateError", "state_location"]
