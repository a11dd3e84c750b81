"""The last pass over each host of a git source, whoever held the host (`source_passes`): the
leading controller settles the source's attempts from these rows.

Frozen: never edit a released revision, add the next one.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

#: 64-bit on both: BIGINT on PostgreSQL, INTEGER (64-bit) on SQLite, as revision 0001's.
BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "source_passes", sa.Column("host", sa.String(), primary_key=True, nullable=False),
        sa.Column("source", sa.String(), nullable=False), sa.Column("revision", sa.String(), nullable=False),
        sa.Column("changed", sa.Boolean(), nullable=False), sa.Column("failed", sa.Boolean(), nullable=False),
        sa.Column("passed_at", sa.Float(), nullable=False), sa.Column("seq", BIG, nullable=False))
    op.create_index("ix_source_passes_seq", "source_passes", ["seq"])


def downgrade() -> None:
    raise NotImplementedError("axis schema revisions are forward-only: restore a backup to go back")
