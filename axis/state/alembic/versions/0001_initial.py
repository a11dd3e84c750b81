"""The schema of axis before Alembic (its legacy migration 7), on SQLite and PostgreSQL.

Frozen: never edit a released revision, add the next one. Differences from the legacy SQL are
only where PostgreSQL needs them: ids and byte counts are BIGINT there (its INTEGER is 32-bit;
on SQLite INTEGER is already 64-bit, and an `id INTEGER PRIMARY KEY` must stay INTEGER to be
the rowid), and the partial unique index on running jobs carries a PostgreSQL WHERE too.
A SQLite file migrated by the legacy migrator to 7 is stamped with this revision, not run through it.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

#: 64-bit on both: BIGINT on PostgreSQL, INTEGER (64-bit, rowid-capable) on SQLite.
BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
#: `axis_meta.schema_version` for an axis from before Alembic: "newer than this axis understands".
LEGACY_FENCE = "8"


def _text(name: str) -> sa.Column:
    return sa.Column(name, sa.String(), nullable=False)


def _float(name: str) -> sa.Column:
    return sa.Column(name, sa.Float(), nullable=False)


def _int(name: str) -> sa.Column:
    return sa.Column(name, sa.Integer(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "objects", sa.Column("id", BIG, primary_key=True, nullable=False), _text("kind"), _text("name"),
        sa.Column("labels", sa.JSON(), nullable=False), sa.Column("spec", sa.JSON(), nullable=False),
        _text("spec_hash"), _int("generation"), _text("source_path"), _int("source_line"), _text("apply_set"),
        _float("created_at"), _float("updated_at"), sa.UniqueConstraint("kind", "name"))
    op.create_table(
        "facts", sa.Column("id", BIG, primary_key=True, nullable=False), _text("host"), _float("collected_at"),
        _text("status"), _text("reason"), sa.Column("data", sa.JSON(), nullable=True))
    op.create_index("ix_facts_host_id", "facts", ["host", "id"])
    op.create_table(
        "feature_status", _text("host"), _text("feature"), _text("state"), _text("reason"), _text("message"),
        _int("observed_generation"), _float("updated_at"), _text("settings_hash"),
        sa.Column("refused", sa.JSON(), nullable=False), sa.PrimaryKeyConstraint("host", "feature"))
    op.create_table(
        "leases", sa.Column("claim", sa.String(), primary_key=True, nullable=False), _text("host"),
        sa.Column("memory_bytes", BIG, nullable=False), sa.Column("gpu", sa.Boolean(), nullable=False),
        _float("acquired"), _float("renewed"), _float("expires"))
    op.create_index("ix_leases_host", "leases", ["host"])
    op.create_table(
        "events", sa.Column("id", BIG, primary_key=True, nullable=False), _float("time"), _text("kind"),
        _text("name"), _text("type"), _text("reason"), _text("message"))
    op.create_index("ix_events_object", "events", ["kind", "name"])
    op.create_table(
        "claim_status", sa.Column("claim", sa.String(), primary_key=True, nullable=False), _text("phase"),
        _text("host"), _text("reason"), _int("observed_generation"), _float("updated_at"))
    op.create_table(
        "conditions", _text("kind"), _text("name"), _text("type"), _text("status"), _text("reason"),
        _text("message"), _float("last_transition"), _int("observed_generation"), _float("last_probe"),
        sa.PrimaryKeyConstraint("kind", "name", "type"))
    op.create_table(
        "sources", sa.Column("name", sa.String(), primary_key=True, nullable=False), _text("url"), _text("ref"),
        _text("path"), _float("interval"), sa.Column("verify", sa.Boolean(), nullable=False),
        sa.Column("suspended", sa.Boolean(), nullable=False), _text("last_attempted"), _text("last_applied"),
        _float("last_applied_at"), _float("created_at"), _float("updated_at"))
    op.create_table(
        "source_attempts", sa.Column("id", BIG, primary_key=True, nullable=False), _text("source"),
        _text("revision"), _float("time"), _text("result"), _text("message"), _int("hosts_changed"),
        _int("hosts_failed"), _text("note"), _float("finished"))
    op.create_index("ix_source_attempts_source_id", "source_attempts", ["source", "id"])
    op.create_table(
        "host_revisions", sa.Column("host", sa.String(), primary_key=True, nullable=False), _text("source"),
        _text("revision"), _float("converged_at"))
    op.create_table(
        "jobs", sa.Column("job_id", sa.String(), primary_key=True, nullable=False), _text("claim"), _text("host"),
        _text("line"), _float("started"), _text("state"), sa.Column("exit_code", sa.Integer(), nullable=True),
        _text("message"), _float("ended"), _float("stop_requested"))
    op.create_index("ix_jobs_claim", "jobs", ["claim", "started"])
    running = sa.text("state = 'Running'")
    op.create_index("ix_jobs_running", "jobs", ["claim"], unique=True, sqlite_where=running, postgresql_where=running)
    meta = op.create_table("axis_meta", sa.Column("key", sa.String(), primary_key=True, nullable=False),
                           _text("value"))
    op.bulk_insert(meta, [{"key": "schema_version", "value": LEGACY_FENCE}])


def downgrade() -> None:
    raise NotImplementedError("axis schema revisions are forward-only: restore a backup to go back")
