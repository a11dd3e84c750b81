"""SQLite state DBs as an axis from before Alembic made them (legacy schema 1..7), to test upgrades."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine

from axis.state import legacy_migrations


def legacy_state_db(path: Path, version: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """A SQLite file at legacy schema `version`, made by the frozen numbered migrator itself."""
    engine = create_engine(f"sqlite:///{path}")
    with monkeypatch.context() as m:
        m.setattr(legacy_migrations, "MIGRATIONS", [mig for mig in legacy_migrations.MIGRATIONS if mig[0] <= version])
        m.setattr(legacy_migrations, "LATEST", version)
        with engine.begin() as conn:
            legacy_migrations.migrate(conn)
    engine.dispose()
