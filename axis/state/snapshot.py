"""One consistent read of the state DB through plain DB-API (sqlite3, psycopg), without SQLAlchemy.

What `axis get`, `describe` and the API's documents show is read here: importing SQLAlchemy and
SQLModel costs a reading command several times what the read itself does. A `Snapshot` runs its
SELECTs in one read transaction (a plain BEGIN on SQLite, REPEATABLE READ READ ONLY on
PostgreSQL), as `Database.read` does, and returns plain rows: frozen dataclasses whose fields are
their table's columns, by name (`tests/test_state_snapshot.py` fails when `axis.state.tables`
and these drift apart).
"""

from __future__ import annotations

import json
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from typing import Any, TypeVar

#: `ownership.scope` of a host's row (`axis.state.ownership.HOST`; a test checks they agree).
HOST_SCOPE = "host"


@dataclass(frozen=True)
class ObjectRow:
    id: int
    kind: str
    name: str
    labels: dict[str, str]
    spec: dict[str, Any]
    spec_hash: str
    generation: int
    source_path: str
    source_line: int
    apply_set: str
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class FactsRow:
    id: int
    host: str
    collected_at: float
    status: str
    reason: str
    data: dict[str, Any] | None


@dataclass(frozen=True)
class FeatureStatusRow:
    host: str
    feature: str
    state: str
    reason: str
    message: str
    observed_generation: int
    updated_at: float
    settings_hash: str
    refused: dict[str, str]


@dataclass(frozen=True)
class ConditionRow:
    kind: str
    name: str
    type: str
    status: str
    reason: str
    message: str
    last_transition: float
    observed_generation: int
    last_probe: float


@dataclass(frozen=True)
class LeaseRow:
    claim: str
    host: str
    memory_bytes: int
    gpu: bool
    acquired: float
    renewed: float
    expires: float


@dataclass(frozen=True)
class ClaimStatusRow:
    claim: str
    phase: str
    host: str
    reason: str
    observed_generation: int
    updated_at: float


@dataclass(frozen=True)
class EventRow:
    id: int
    time: float
    kind: str
    name: str
    type: str
    reason: str
    message: str


@dataclass(frozen=True)
class HostRevisionRow:
    host: str
    source: str
    revision: str
    converged_at: float


@dataclass(frozen=True)
class OwnershipRow:
    scope: str
    name: str
    holder: str
    token: int
    acquired: float
    expires: float


@dataclass(frozen=True)
class JobRow:
    job_id: str
    claim: str
    host: str
    line: str
    started: float
    state: str
    exit_code: int | None
    message: str
    ended: float
    stop_requested: float


#: Each row class → its table, for the SELECTs here and the test that compares them.
TABLES: dict[type, str] = {
    ObjectRow: "objects", FactsRow: "facts", FeatureStatusRow: "feature_status", ConditionRow: "conditions",
    LeaseRow: "leases", ClaimStatusRow: "claim_status", EventRow: "events", HostRevisionRow: "host_revisions",
    OwnershipRow: "ownership", JobRow: "jobs",
}
#: Columns stored as JSON (text on SQLite; psycopg decodes PostgreSQL's json itself) or as booleans
#: (0/1 on SQLite), decoded to what the ORM's column types give.
_JSON = frozenset({"labels", "spec", "data", "refused"})
_BOOL = frozenset({"gpu"})

R = TypeVar("R")


class Snapshot:
    """The reads of one transaction (see the module docstring); made by `read_snapshot`."""

    def __init__(self, conn: Any, backend: str):
        self._conn = conn
        self._postgres = backend == "postgresql"

    def _select(self, row: type[R], where: str = "", params: tuple[Any, ...] = (), tail: str = "") -> list[R]:
        names = [f.name for f in fields(row)]  # type: ignore[arg-type]  # R is always a row dataclass
        sql = f"SELECT {', '.join(names)} FROM {TABLES[row]}" + (f" WHERE {where}" if where else "") + tail
        return [row(**{n: _decode(n, v) for n, v in zip(names, values, strict=True)}) for values in self._all(sql, params)]

    def _all(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        cursor = self._conn.cursor()
        try:
            cursor.execute(sql.replace("?", "%s") if self._postgres else sql, params)
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def objects(self, kind: str) -> list[ObjectRow]:
        """The desired objects of `kind`, by name."""
        return self._select(ObjectRow, "kind = ?", (kind,), " ORDER BY name")

    def object(self, kind: str, name: str) -> ObjectRow | None:
        found = self._select(ObjectRow, "kind = ? AND name = ?", (kind, name))
        return found[0] if found else None

    def latest_facts(self, hosts: Collection[str]) -> dict[str, FactsRow]:
        """The newest observation of each of `hosts` (one query, whatever the fleet size)."""
        if not hosts:
            return {}
        marks = ", ".join("?" * len(hosts))
        rows = self._select(FactsRow, f"id IN (SELECT max(id) FROM facts GROUP BY host) AND host IN ({marks})",
                            tuple(hosts))
        return {row.host: row for row in rows}

    @property
    def _has_data(self) -> str:
        """SQL: the row's facts are an object (an unreachable pass stores JSON null)."""
        return f"{'json_typeof(data)' if self._postgres else 'json_type(data)'} = 'object'"

    def latest_facts_with_data(self, host: str) -> FactsRow | None:
        """The newest observation that carried facts (an unreachable pass stores JSON null)."""
        found = self._select(FactsRow, f"host = ? AND {self._has_data}", (host,), " ORDER BY id DESC LIMIT 1")
        return found[0] if found else None

    def memory_totals(self, hosts: Collection[str] | None = None) -> dict[str, tuple[int, int | None]]:
        """Each host's (total memory, cgroup memory limit or None) by its newest observation, or
        by the newest that carried facts where the newest did not (an unreachable pass), or only
        `hosts`': read in the DB (decoding every host's facts would cost more than the page they
        feed), newest rows by the index first, then one query for the hosts whose newest was empty."""
        if self._postgres:
            total, limit = ("(data->'memory'->>'total_bytes')::bigint", "(data->'memory'->>'cgroup_limit_bytes')::bigint")
        else:
            total, limit = "json_extract(data, '$.memory.total_bytes')", "json_extract(data, '$.memory.cgroup_limit_bytes')"

        def newest(among: Collection[str] | None, with_data: bool) -> list[Any]:
            where = [f"host IN ({', '.join('?' * len(among))})"] if among is not None else []
            where += [self._has_data] if with_data else []
            return self._all(f"SELECT host, {total}, {limit}, {self._has_data} FROM facts WHERE id IN (SELECT max(id) "
                             f"FROM facts{' WHERE ' + ' AND '.join(where) if where else ''} GROUP BY host)",
                             tuple(among) if among is not None else ())

        if hosts is not None and not hosts:
            return {}
        rows = newest(hosts, with_data=False)
        empty = [host for host, _, _, has_data in rows if not has_data]
        rows = [row for row in rows if row[3]] + (newest(empty, with_data=True) if empty else [])
        return {host: (int(value), int(cap) if cap is not None else None) for host, value, cap, _ in rows
                if value is not None}

    def facts_history(self, host: str) -> list[FactsRow]:
        """A host's stored observations, oldest first (the state keeps a bounded number)."""
        return self._select(FactsRow, "host = ?", (host,), " ORDER BY id")

    def feature_status(self, hosts: Collection[str] | None = None) -> list[FeatureStatusRow]:
        """Every host's feature rows (or only `hosts`'), by host then feature."""
        if hosts is None:
            return self._select(FeatureStatusRow, tail=" ORDER BY host, feature")
        if not hosts:
            return []
        return self._select(FeatureStatusRow, f"host IN ({', '.join('?' * len(hosts))})", tuple(hosts),
                            " ORDER BY host, feature")

    def conditions(self, kind: str) -> list[ConditionRow]:
        """Every condition of the objects of `kind`, by name then type."""
        return self._select(ConditionRow, "kind = ?", (kind,), " ORDER BY name, type")

    def host_revisions(self) -> dict[str, HostRevisionRow]:
        return {row.host: row for row in self._select(HostRevisionRow)}

    def holders(self, now: float) -> dict[str, OwnershipRow]:
        """Each host's unexpired ownership row, by host."""
        rows = self._select(OwnershipRow, "scope = ? AND holder != '' AND expires > ?", (HOST_SCOPE, now))
        return {row.name: row for row in rows}

    def lease_time(self) -> float:
        """Now on the clock leases are measured by (`axis.state.controllers.lease_time`): the
        server's on PostgreSQL, this machine's on SQLite."""
        if self._postgres:
            return float(self._all("SELECT extract(epoch FROM clock_timestamp())")[0][0])
        return time.time()

    def leases(self) -> list[LeaseRow]:
        """Every lease, live or expired but not yet swept, by host then claim."""
        return self._select(LeaseRow, tail=" ORDER BY host, claim")

    def leased_by_host(self, now: float) -> dict[str, int]:
        """Memory held by live leases, per host (one query)."""
        rows = self._all("SELECT host, sum(memory_bytes) FROM leases WHERE expires > ? GROUP BY host", (now,))
        return {host: int(total) for host, total in rows}

    def claim_statuses(self) -> dict[str, ClaimStatusRow]:
        return {row.claim: row for row in self._select(ClaimStatusRow)}

    def newest_jobs(self) -> dict[str, JobRow]:
        """Each claim's newest job."""
        return {row.claim: row for row in self._select(JobRow, tail=" ORDER BY claim, started, job_id")}

    def events(self, *, kind: str | None = None, name: str | None = None, limit: int | None = None,
               after_id: int = 0) -> list[EventRow]:
        """Events oldest first; with `limit`, the newest `limit` of them."""
        where, params = "id > ?", list[Any]([after_id])
        for column, value in (("kind", kind), ("name", name)):
            if value:
                where += f" AND {column} = ?"
                params.append(value)
        if limit:
            return list(reversed(self._select(EventRow, where, tuple(params), f" ORDER BY id DESC LIMIT {int(limit)}")))
        return self._select(EventRow, where, tuple(params), " ORDER BY id")


def _decode(name: str, value: Any) -> Any:
    if name in _JSON and isinstance(value, str):
        return json.loads(value)
    if name in _BOOL:
        return bool(value)
    return value


@contextmanager
def read_snapshot(conn: Any, backend: str) -> Iterator[Snapshot]:
    """A read transaction on DB-API connection `conn` (of a Location whose backend is `backend`),
    rolled back when done; the caller owns the connection and words the driver's errors."""
    if backend == "postgresql":  # psycopg begins the transaction itself: end any a pool's ping left
        conn.rollback()
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    else:
        conn.execute("BEGIN")
    try:
        yield Snapshot(conn, backend)
    finally:
        conn.rollback()
