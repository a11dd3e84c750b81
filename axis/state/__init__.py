"""The state DB: desired objects, observed facts, feature status, leases and events (SQLite, WAL)."""

from axis.state.db import Database, StateError, state_path

__all__ = ["Database", "StateError", "state_path"]
