"""Several controllers share one state DB: the registry of controller processes and the ownership
leases (one row per desired host, and the leader role) with their fencing tokens
(`axis.state.controllers`, `axis.state.ownership`).

Frozen: never edit a released revision, add the next one.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

#: 64-bit on both: BIGINT on PostgreSQL, INTEGER (64-bit) on SQLite, as revision 0001's.
BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _text(name: str) -> sa.Column:
    return sa.Column(name, sa.String(), nullable=False)


def _float(name: str) -> sa.Column:
    return sa.Column(name, sa.Float(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "controllers", sa.Column("name", sa.String(), primary_key=True, nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False), _text("machine"), _float("started"), _float("heartbeat"),
        _float("lease_seconds"), _float("stopped"))
    op.create_table(
        "ownership", _text("scope"), _text("name"), _text("holder"), sa.Column("token", BIG, nullable=False),
        _float("acquired"), _float("expires"), sa.PrimaryKeyConstraint("scope", "name"))
    op.create_index("ix_ownership_holder", "ownership", ["holder"])


def downgrade() -> None:
    raise NotImplementedError("axis schema revisions are forward-only: restore a backup to go back")
