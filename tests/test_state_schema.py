"""The Alembic schema on SQLite: a state DB from before Alembic upgrades without losing a row, the
table models are what the revisions make, and opening an up-to-date DB does not import Alembic.

(The same on PostgreSQL: tests/test_state_pg.py.)"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel

from axis.state import Database, schema
from axis.state.events import list_events
from axis.state.leases import leased_by_host
from tests.legacydb import legacy_state_db

#: One row in every table of legacy schema 7, as an axis before Alembic wrote them (64-bit
#: values where a byte count can pass 2**31, the partial index's one running job per claim).
V7_ROWS = {
    "objects": "(kind, name, labels, spec, spec_hash, generation, source_path, source_line, apply_set, created_at,"
               " updated_at) VALUES ('Host', 'web-1', '{\"role\": \"w\"}', '{\"address\": \"web-1.lan\"}', 'h1', 3,"
               " 'specs/a.yaml', 1, 'specs', 1.5, 2.5)",
    "facts": "(host, collected_at, status, reason, data) VALUES ('web-1', 5.0, 'complete', '', '{\"cpu\": {}}')",
    "feature_status": "(host, feature, state, reason, message, observed_generation, updated_at, settings_hash, refused)"
                      " VALUES ('web-1', 'swapfile', 'refused', 'Refused', 'no', 3, 6.0, 'abc', '{\"k\": \"v\"}')",
    "leases": "(claim, host, memory_bytes, gpu, acquired, renewed, expires)"
              " VALUES ('train', 'web-1', 68719476736, 1, 1.0, 2.0, 99999999999.0)",
    "claim_status": "(claim, phase, host, reason, observed_generation, updated_at)"
                    " VALUES ('train', 'Bound', 'web-1', '', 2, 3.0)",
    "events": "(time, kind, name, type, reason, message) VALUES (7.0, 'Host', 'web-1', 'Normal', 'Converged', 'old')",
    "conditions": "(kind, name, type, status, reason, message, last_transition, observed_generation, last_probe)"
                  " VALUES ('Host', 'web-1', 'Ready', 'True', 'Converged', '', 4.0, 3, 4.5)",
    "sources": "(name, url, ref, path, interval, verify, suspended, last_attempted, last_applied, last_applied_at,"
               " created_at, updated_at) VALUES ('fleet', 'file:///srv/fleet.git', 'main', 'specs', 60.0, 1, 0,"
               " 'main@sha1:aa', 'main@sha1:aa', 8.0, 1.0, 8.0)",
    "source_attempts": "(source, revision, time, result, message, hosts_changed, hosts_failed, note, finished)"
                       " VALUES ('fleet', 'main@sha1:aa', 8.0, 'Converged', '', 1, 0, '', 9.0)",
    "host_revisions": "(host, source, revision, converged_at) VALUES ('web-1', 'fleet', 'main@sha1:aa', 9.0)",
    "jobs": "(job_id, claim, host, line, started, state, exit_code, message, ended, stop_requested)"
            " VALUES ('train-0123456789ab', 'train', 'web-1', 'python train.py', 10.0, 'Running', NULL, '', 0.0, 0.0)",
}


def _models_vs_schema(engine_conn) -> list[object]:  # noqa: ANN001 - a SQLAlchemy Connection
    return compare_metadata(MigrationContext.configure(engine_conn), SQLModel.metadata)


def test_head_is_the_script_directorys_head():
    """`schema.HEAD` is what the fast path compares with: it must be the newest revision."""
    config = Config()
    config.set_main_option("script_location", str(schema.SCRIPT_DIR))
    assert ScriptDirectory.from_config(config).get_heads() == [schema.HEAD]


def test_a_fresh_db_is_what_the_models_say(tmp_path: Path):
    db = Database(tmp_path / "s.db")
    with db.engine.connect() as conn:
        assert _models_vs_schema(conn) == []
    db.close()


def test_a_v7_db_full_of_rows_upgrades_without_losing_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "v7.db"
    legacy_state_db(path, 7, monkeypatch)
    raw = sqlite3.connect(path)
    tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")} - {"axis_meta"}
    assert tables == set(V7_ROWS)  # a row in every table
    for table, values in V7_ROWS.items():
        raw.execute(f"INSERT INTO {table} {values}")
    raw.commit()
    before = {t: raw.execute(f"SELECT * FROM {t}").fetchall() for t in V7_ROWS}
    raw.close()

    db = Database(path)
    raw = sqlite3.connect(path)
    assert {t: raw.execute(f"SELECT * FROM {t}").fetchall() for t in V7_ROWS} == before
    assert raw.execute("SELECT version_num FROM alembic_version").fetchall() == [(schema.HEAD,)]
    assert raw.execute("SELECT value FROM axis_meta WHERE key='schema_version'").fetchone() == (schema.LEGACY_FENCE,)
    assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    raw.close()
    with db.read() as s:  # and axis reads them
        assert [e.message for e in list_events(s)] == ["old"]
        assert leased_by_host(s, now=1.0) == {"web-1": 68719476736}
    with db.engine.connect() as conn:  # the stamped schema is the models' (legacy INTEGER is 64-bit here)
        assert _models_vs_schema(conn) == []
    db.close()
    Database(path).close()  # opened again: nothing left to do, nothing lost
    raw = sqlite3.connect(path)
    assert {t: raw.execute(f"SELECT * FROM {t}").fetchall() for t in V7_ROWS} == before


def test_an_up_to_date_db_opens_without_importing_alembic(tmp_path: Path):
    """Start-up stays cheap: one query against HEAD; Alembic is imported only to upgrade. (`get
    controllers` opens the DB through SQLAlchemy; `get hosts` no longer does, see
    tests/test_cli_startup.py.)"""
    state = tmp_path / "s.db"
    Database(state).close()
    env = {**os.environ, "AXIS_STATE": str(state), "PYTHONPATH": str(Path(__file__).parents[1])}
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "axis", "get", "controllers"],
                          capture_output=True, text=True, env=env, check=False, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "axis.state.schema" in imported and "sqlalchemy" in imported  # the log is what it seems
    assert not any(name == "alembic" or name.startswith("alembic.") for name in imported)
