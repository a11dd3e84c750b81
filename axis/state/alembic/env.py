"""Alembic's environment: runs the revisions on the connection `axis.state.schema` hands over
(`config.attributes["connection"]`), inside that caller's write transaction, never its own."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import axis.state.tables  # noqa: F401 - registers the table models in SQLModel.metadata

connection = context.config.attributes["connection"]
# SQLite cannot ALTER most things: batch mode copies a table instead.
context.configure(connection=connection, target_metadata=SQLModel.metadata,
                  render_as_batch=connection.dialect.name == "sqlite", transactional_ddl=True)
with context.begin_transaction():
    context.run_migrations()
