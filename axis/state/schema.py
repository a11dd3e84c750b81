"""Bringing a state DB's schema to the one this axis writes, on every open, without losing a row.

The schema is Alembic's (`axis/state/alembic/versions/`), on SQLite and PostgreSQL alike. Opening
is cheap when nothing is due: one query compares `alembic_version` with `HEAD`, and Alembic is
imported only when an upgrade runs (`python -X importtime -m axis get hosts` shows no alembic on
an up-to-date DB). That comparison runs in a read (`is_current`); an upgrade happens inside the
caller's write transaction (BEGIN IMMEDIATE on SQLite, the advisory write lock on PostgreSQL),
which asks again, so two first opens at once upgrade once.

A SQLite file from before Alembic (`axis_meta.schema_version` 1..7, no `alembic_version`) is
brought to 7 by the frozen legacy migrator, stamped 0001 (which is schema 7) and upgraded to
head, in that same transaction.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the check needs plain DB-API only: the read-only commands ask it without SQLAlchemy
    from sqlalchemy import Connection

#: The newest revision in `alembic/versions/` (a test checks it is the script directory's head).
HEAD = "0003"
#: Where the revisions live; shipped as package data, no alembic.ini needed.
SCRIPT_DIR = Path(__file__).with_name("alembic")
#: The revision that is legacy schema 7: a pre-Alembic file brought to 7 is stamped with it.
LEGACY_REVISION = "0001"
#: `axis_meta.schema_version` of every Alembic-managed DB (revision 0001 writes the same): an axis
#: from before Alembic refuses it as "newer than this axis understands" instead of trying to
#: create its tables again.
LEGACY_FENCE = "8"


class SchemaError(RuntimeError):
    """The DB's schema is not one this axis can upgrade from; the message says what to do."""


def _tables(conn: Any, backend: str) -> set[str]:
    """Which of the version-keeping tables exist (`conn`: a DB-API connection)."""
    if backend == "sqlite":
        sql = "SELECT name FROM sqlite_master WHERE type='table' AND name IN ('alembic_version', 'axis_meta')"
    else:
        sql = ("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
               "AND table_name IN ('alembic_version', 'axis_meta')")
    return {str(row[0]) for row in _rows(conn, sql)}


def _revision(conn: Any) -> str | None:
    rows = _rows(conn, "SELECT version_num FROM alembic_version")
    return str(rows[0][0]) if rows else None


def _rows(conn: Any, sql: str) -> list[Any]:
    cursor = conn.cursor()
    try:
        cursor.execute(sql)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def is_current(conn: Any, backend: str) -> bool:
    """Whether the DB is at HEAD already: asked in a read, before taking the write lock, so that
    opening an up-to-date DB never waits for a writer. `conn` is a DB-API connection (sqlite3's
    or psycopg's, the engine's own or `axis.state.dbapi`'s), `backend` its Location's."""
    return "alembic_version" in _tables(conn, backend) and _revision(conn) == HEAD


def upgrade(conn: Connection) -> None:
    """Bring the DB to HEAD inside the caller's write transaction (see the module's docstring)."""
    raw = conn.connection.dbapi_connection  # in the caller's transaction
    tables = _tables(raw, conn.dialect.name)
    revision = _revision(raw) if "alembic_version" in tables else None
    if "alembic_version" not in tables and "axis_meta" in tables and conn.dialect.name == "sqlite":
        _from_legacy(conn)
        revision = LEGACY_REVISION
    if revision != HEAD:
        _alembic_upgrade(conn, revision)


def _from_legacy(conn: Connection) -> None:
    """Legacy schema 1..7 → 7 → stamped 0001, its axis_meta fenced against an older axis."""
    from axis.state import legacy_migrations

    legacy_migrations.migrate(conn)
    conn.exec_driver_sql("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
                         "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))")
    conn.exec_driver_sql("INSERT INTO alembic_version (version_num) VALUES (?)", (LEGACY_REVISION,))
    conn.exec_driver_sql("UPDATE axis_meta SET value = ? WHERE key = 'schema_version'", (LEGACY_FENCE,))


def _alembic_upgrade(conn: Connection, revision: str | None) -> None:
    """Alembic's upgrade to head on `conn`; a revision this axis does not know is refused."""
    from alembic import command
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(SCRIPT_DIR))
    if revision is not None and revision not in {s.revision for s in ScriptDirectory.from_config(config).walk_revisions()}:
        raise SchemaError(f"the state DB has schema version {revision!r}, newer than this axis understands "
                          f"({HEAD!r}) or not written by axis: upgrade axis, or point --state/AXIS_STATE at "
                          "another DB; if it was edited, restore it from a backup")
    config.attributes["connection"] = conn
    command.upgrade(config, "head")
