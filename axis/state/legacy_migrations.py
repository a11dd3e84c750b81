"""The numbered SQLite migrations axis used before Alembic, frozen: never edited, never appended to.

A SQLite state DB made by an earlier axis has `axis_meta.schema_version` 1..7 and no
`alembic_version`; `axis.state.schema` runs these to bring it to 7 (the schema Alembic's revision
0001 describes), stamps it 0001 and goes on with Alembic, in the same transaction. Schema changes
are Alembic revisions now (`axis/state/alembic/versions/`).
"""

from __future__ import annotations

from sqlalchemy import Connection

from axis.state.schema import SchemaError

MIGRATIONS: list[tuple[int, str, list[str]]] = [
    (1, "initial schema", [
        """CREATE TABLE objects (
            id INTEGER NOT NULL PRIMARY KEY, kind VARCHAR NOT NULL, name VARCHAR NOT NULL,
            labels JSON NOT NULL, spec JSON NOT NULL, spec_hash VARCHAR NOT NULL,
            generation INTEGER NOT NULL, source_path VARCHAR NOT NULL, source_line INTEGER NOT NULL,
            apply_set VARCHAR NOT NULL, created_at FLOAT NOT NULL, updated_at FLOAT NOT NULL,
            UNIQUE (kind, name))""",
        """CREATE TABLE facts (
            id INTEGER NOT NULL PRIMARY KEY, host VARCHAR NOT NULL, collected_at FLOAT NOT NULL,
            status VARCHAR NOT NULL, reason VARCHAR NOT NULL, data JSON)""",
        "CREATE INDEX ix_facts_host_id ON facts (host, id)",
        """CREATE TABLE feature_status (
            host VARCHAR NOT NULL, feature VARCHAR NOT NULL, state VARCHAR NOT NULL,
            reason VARCHAR NOT NULL, message VARCHAR NOT NULL, observed_generation INTEGER NOT NULL,
            updated_at FLOAT NOT NULL, PRIMARY KEY (host, feature))""",
        """CREATE TABLE leases (
            claim VARCHAR NOT NULL PRIMARY KEY, host VARCHAR NOT NULL, memory_bytes INTEGER NOT NULL,
            gpu BOOLEAN NOT NULL, acquired FLOAT NOT NULL, renewed FLOAT NOT NULL, expires FLOAT NOT NULL)""",
        "CREATE INDEX ix_leases_host ON leases (host)",
        """CREATE TABLE events (
            id INTEGER NOT NULL PRIMARY KEY, time FLOAT NOT NULL, kind VARCHAR NOT NULL, name VARCHAR NOT NULL,
            type VARCHAR NOT NULL, reason VARCHAR NOT NULL, message VARCHAR NOT NULL)""",
        "CREATE INDEX ix_events_object ON events (kind, name)",
    ]),
    (2, "claim placement status", [
        """CREATE TABLE claim_status (
            claim VARCHAR NOT NULL PRIMARY KEY, phase VARCHAR NOT NULL, host VARCHAR NOT NULL,
            reason VARCHAR NOT NULL, observed_generation INTEGER NOT NULL, updated_at FLOAT NOT NULL)""",
    ]),
    (3, "feature status remembers refused live steps", [
        "ALTER TABLE feature_status ADD COLUMN settings_hash VARCHAR NOT NULL DEFAULT ''",
        "ALTER TABLE feature_status ADD COLUMN refused JSON NOT NULL DEFAULT '{}'",
    ]),
    (4, "status conditions", [
        """CREATE TABLE conditions (
            kind VARCHAR NOT NULL, name VARCHAR NOT NULL, type VARCHAR NOT NULL, status VARCHAR NOT NULL,
            reason VARCHAR NOT NULL, message VARCHAR NOT NULL, last_transition FLOAT NOT NULL,
            observed_generation INTEGER NOT NULL, PRIMARY KEY (kind, name, type))""",
    ]),
    (5, "conditions say when the pass that set them read the desired state", [
        "ALTER TABLE conditions ADD COLUMN last_probe FLOAT NOT NULL DEFAULT 0",
    ]),
    (6, "git sources", [
        """CREATE TABLE sources (
            name VARCHAR NOT NULL PRIMARY KEY, url VARCHAR NOT NULL, ref VARCHAR NOT NULL, path VARCHAR NOT NULL,
            interval FLOAT NOT NULL, verify BOOLEAN NOT NULL, suspended BOOLEAN NOT NULL,
            last_attempted VARCHAR NOT NULL, last_applied VARCHAR NOT NULL, last_applied_at FLOAT NOT NULL,
            created_at FLOAT NOT NULL, updated_at FLOAT NOT NULL)""",
        """CREATE TABLE source_attempts (
            id INTEGER NOT NULL PRIMARY KEY, source VARCHAR NOT NULL, revision VARCHAR NOT NULL,
            time FLOAT NOT NULL, result VARCHAR NOT NULL, message VARCHAR NOT NULL,
            hosts_changed INTEGER NOT NULL, hosts_failed INTEGER NOT NULL, note VARCHAR NOT NULL,
            finished FLOAT NOT NULL)""",
        "CREATE INDEX ix_source_attempts_source_id ON source_attempts (source, id)",
        """CREATE TABLE host_revisions (
            host VARCHAR NOT NULL PRIMARY KEY, source VARCHAR NOT NULL, revision VARCHAR NOT NULL,
            converged_at FLOAT NOT NULL)""",
    ]),
    (7, "detached jobs", [
        """CREATE TABLE jobs (
            job_id VARCHAR NOT NULL PRIMARY KEY, claim VARCHAR NOT NULL, host VARCHAR NOT NULL,
            line VARCHAR NOT NULL, started FLOAT NOT NULL, state VARCHAR NOT NULL, exit_code INTEGER,
            message VARCHAR NOT NULL, ended FLOAT NOT NULL, stop_requested FLOAT NOT NULL)""",
        "CREATE INDEX ix_jobs_claim ON jobs (claim, started)",
        "CREATE UNIQUE INDEX ix_jobs_running ON jobs (claim) WHERE state = 'Running'",
    ]),
]

LATEST = MIGRATIONS[-1][0]


def current_version(conn: Connection) -> int:
    has_meta = conn.exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name='axis_meta'").first()
    if not has_meta:
        return 0
    row = conn.exec_driver_sql("SELECT value FROM axis_meta WHERE key='schema_version'").first()
    if row is None:
        return 0
    text = str(row[0]).strip()
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        raise SchemaError(f"its schema_version is {str(row[0])[:40]!r}, not a version axis writes (1 to {LATEST}): "
                          "the file was edited or not written by axis; restore it from a backup, or move it "
                          "aside and run `axis apply` to start a new one")
    return int(text)


def migrate(conn: Connection) -> list[int]:
    """Bring a SQLite DB to LATEST inside the caller's (immediate) transaction; return what ran."""
    conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS axis_meta (key VARCHAR NOT NULL PRIMARY KEY, value VARCHAR NOT NULL)")
    version = current_version(conn)
    if version > LATEST:
        raise SchemaError(f"the state DB has schema version {version}, newer than this axis "
                          f"understands ({LATEST}); upgrade axis, or point --state/AXIS_STATE at another DB")
    ran = []
    for number, _title, statements in MIGRATIONS:
        if number <= version:
            continue
        for statement in statements:
            conn.exec_driver_sql(statement)
        conn.exec_driver_sql("INSERT OR REPLACE INTO axis_meta (key, value) VALUES ('schema_version', ?)",
                             (str(number),))
        ran.append(number)
    return ran
