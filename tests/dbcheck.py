"""Read-path answers (HTTP API, MCP tools) checked against the state DB's rows themselves.

Comparing the API with the CLI alone would pass if both read the DB wrong the same way (they
share the views). These helpers read the tables with plain SQL, not through axis's state layer,
and check each answer's values against them.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import NullPool

from axis.state import Location

GiB = 1 << 30

#: A state DB as the tests hold it: the `state_db` fixture's path or URL, or an AppContext's Location.
State = Path | str | Location


def _is_url(state: State) -> bool:
    return Location.of(state).url is not None


def _file(state: State) -> Path:
    """The SQLite file of a state that is not a URL."""
    path = Location.of(state).path
    assert path is not None, f"{state} is not a SQLite file"
    return path


def _engine(state: State) -> Engine:
    """A plain engine of its own on the state DB: a SQLite file, or a postgresql:// URL (the tests'
    own server, tests/pgserver.py) through psycopg. No pool: each call's connection is closed."""
    return create_engine(Location.of(state).sqlalchemy_url, poolclass=NullPool)


def rows(state: State, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    """The rows of `sql` (`:name` placeholders bound from `params`) on a connection of its own:
    plain sqlite3 for a file, SQLAlchemy over psycopg for a URL."""
    if not _is_url(state):
        conn = sqlite3.connect(_file(state))
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()
    engine = _engine(state)
    try:
        with engine.connect() as pg:
            return [tuple(row) for row in pg.execute(text(sql), params)]
    finally:
        engine.dispose()


#: What the database raises for a duplicate in a unique index, through `execute`, on either backend.
UNIQUE_VIOLATION = (sqlite3.IntegrityError, IntegrityError)


def execute(state: State, sql: str, **params: Any) -> None:
    """Run one statement and commit it, as `rows` connects; the database's own error propagates."""
    if not _is_url(state):
        conn = sqlite3.connect(_file(state))
        try:
            with conn:
                conn.execute(sql, params)
        finally:
            conn.close()
        return
    engine = _engine(state)
    try:
        with engine.begin() as pg:
            pg.execute(text(sql), params)
    finally:
        engine.dispose()


def columns(state: State, table: str) -> list[str]:
    """The column names of `table`, in their order."""
    engine = _engine(state)
    try:
        return [column["name"] for column in inspect(engine).get_columns(table)]
    finally:
        engine.dispose()


def dump(state: State) -> list[Any]:
    """Every row of every table, to prove that nothing was written: SQLite's own dump (schema
    included) of a file, or each PostgreSQL table's rows in a stable order."""
    if _is_url(state):
        tables = [name for (name,) in rows(state, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                                                  "ORDER BY tablename")]
        return [(table, sorted(map(repr, rows(state, f'SELECT * FROM "{table}"')))) for table in tables]
    with sqlite3.connect(_file(state)) as conn:
        return list(conn.iterdump())


def decoded(value: Any) -> Any:
    """A JSON column's value as Python: SQLite hands back its text, PostgreSQL (json) the value."""
    return json.loads(value) if isinstance(value, str | bytes) else value


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def objects(state: State, kind: str) -> dict[str, dict[str, Any]]:
    return {name: {"generation": gen, "spec": decoded(spec), "labels": decoded(labels)}
            for name, gen, spec, labels in rows(state, f"SELECT name, generation, spec, labels FROM objects "
                                                        f"WHERE kind = '{kind}'")}


def latest_facts(state: State) -> dict[str, tuple[str, dict[str, Any] | None]]:
    """host → (status, facts document) of its newest observation."""
    newest = rows(state, "SELECT host, status, data FROM facts WHERE id IN (SELECT max(id) FROM facts GROUP BY host)")
    return {host: (status, decoded(data)) for host, status, data in newest}


def leases(state: State) -> dict[str, dict[str, Any]]:
    return {claim: {"host": host, "memory_bytes": mem, "expires": expires}
            for claim, host, mem, expires in rows(state, "SELECT claim, host, memory_bytes, expires FROM leases")}


def claim_phases(state: State) -> dict[str, str]:
    return dict(rows(state, "SELECT claim, phase FROM claim_status"))


def check_hosts(doc: dict[str, Any], state: State) -> None:
    """A HostList (or one Host) says what the rows say: generation, spec, labels, observation."""
    items = doc["items"] if "items" in doc else [doc]
    stored, facts = objects(state, "Host"), latest_facts(state)
    if "items" in doc:
        assert [i["metadata"]["name"] for i in items] == sorted(stored)
    for item in items:
        name = item["metadata"]["name"]
        row = stored[name]
        assert item["metadata"]["generation"] == row["generation"], name
        assert item["spec"] == row["spec"], name
        assert item["metadata"].get("labels", {}) == row["labels"], name
        observed = item["status"]["observed"]
        if name not in facts:
            assert observed["status"] == "unknown" and observed["summary"] == {}, name
            continue
        status, data = facts[name]
        assert observed["status"] == status, name
        assert data is not None
        assert observed["summary"]["cores"] == str(data["cpu"]["cores"]), name
        assert observed["summary"]["os"] == f"{data['os']['distro']} {data['os']['distro_version']}", name
        assert observed["summary"]["pressure"] == data["memory"]["pressure"], name


def check_claims(doc: dict[str, Any], state: State) -> None:
    """A claim list says each claim's phase, host and memory as claim_status and leases hold them."""
    stored, held, phases = objects(state, "Claim"), leases(state), claim_phases(state)
    assert sorted(i["metadata"]["name"] for i in doc["items"]) == sorted(stored)
    for item in doc["items"]:
        name, status = item["metadata"]["name"], item["status"]
        assert item["metadata"]["generation"] == stored[name]["generation"]
        assert item["spec"] == stored[name]["spec"]
        assert status["phase"] == phases[name], name
        if name in held:
            assert status["host"] == held[name]["host"], name
            assert status["memory"] == f"{held[name]['memory_bytes'] / GiB:.1f}Gi", name
            assert status["expires"] == iso(held[name]["expires"]), name


def check_leases(doc: dict[str, Any], state: State) -> None:
    held = leases(state)
    assert sorted(i["claim"] for i in doc["items"]) == sorted(held)
    for item in doc["items"]:
        row = held[item["claim"]]
        assert (item["host"], item["memory"], item["expires"]) == (
            row["host"], f"{row['memory_bytes'] / GiB:.1f}Gi", iso(row["expires"]))


def check_status(doc: dict[str, Any], state: State) -> None:
    """The fleet totals add up what the newest facts rows say."""
    facts = latest_facts(state)
    observed = [data for status, data in facts.values() if status in ("complete", "partial") and data is not None]
    totals = doc["totals"]
    assert totals["hosts"] == len(objects(state, "Host"))
    assert totals["reachable"] == len(observed)
    assert totals["cores"] == sum(d["cpu"]["cores"] for d in observed)
    assert totals["memoryTotalBytes"] == sum(d["memory"]["total_bytes"] for d in observed)
    assert totals["memoryAvailableBytes"] == sum(d["memory"]["available_bytes"] for d in observed)
    assert totals["gpus"] == sum(len(d["gpus"]) for d in observed)
    by_name = {h["name"]: h for h in doc["hosts"]}
    for name, (status, data) in facts.items():
        assert by_name[name]["status"] == status
        assert by_name[name]["facts"] == data
