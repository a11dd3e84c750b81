"""Table models of the state DB. Rows are written from validated spec models and facts;
`table=True` models skip pydantic validation, so nothing user-typed reaches them unvalidated.

Times are UTC epoch seconds (REAL on SQLite, double precision on PostgreSQL): cheap to compare
for lease expiry, unambiguous across zones and the same on both backends. Ids and byte counts are
64-bit on both (`BIG`: PostgreSQL's INTEGER is 32-bit). These models must describe the schema the
newest Alembic revision leaves (a test compares them on both dialects).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, UniqueConstraint, text
from sqlmodel import Field, SQLModel

#: 64-bit on both: BIGINT on PostgreSQL, INTEGER on SQLite (already 64-bit there, and an
#: `INTEGER PRIMARY KEY` is the rowid that numbers new rows; a BIGINT one would not be).
BIG = BigInteger().with_variant(Integer(), "sqlite")


def _id() -> Any:
    """An autonumbered 64-bit id column."""
    return Field(default=None, sa_column=Column(BIG, primary_key=True))


class DesiredObject(SQLModel, table=True):
    """A Host, HostProfile or Claim as last applied; `generation` rises only when the spec changes."""

    __tablename__ = "objects"
    __table_args__ = (UniqueConstraint("kind", "name"),)

    id: int | None = _id()
    kind: str
    name: str
    labels: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    spec: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    spec_hash: str
    generation: int = 1
    source_path: str
    source_line: int
    apply_set: str
    created_at: float
    updated_at: float


class FactsRecord(SQLModel, table=True):
    """One observation of a host; the newest row per host is its current facts."""

    __tablename__ = "facts"
    __table_args__ = (Index("ix_facts_host_id", "host", "id"),)

    id: int | None = _id()
    host: str
    collected_at: float
    status: str  # complete | partial | unreachable | error
    reason: str = ""
    data: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class FeatureStatus(SQLModel, table=True):
    """The last known state of one feature on one host, rebuilt from observation each pass."""

    __tablename__ = "feature_status"

    host: str = Field(primary_key=True)
    feature: str = Field(primary_key=True)
    state: str  # in-sync | pending | applied | refused | failed | not-applicable
    reason: str = ""
    message: str = ""
    observed_generation: int = 0
    updated_at: float
    #: hash of the settings the status was computed for, and the live steps the host refused
    #: for those settings (step key → the host's message): not retried until the settings change.
    settings_hash: str = ""
    refused: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class Condition(SQLModel, table=True):
    """A Kubernetes-style condition of an object (Reachable, Converged, Ready, Bound).

    `last_transition` moves only when `status` flips, so it says how long a host has been
    unreachable, not when it was last checked; `last_probe` is when the pass that set it read
    the desired state (0 before schema 5), so a reader knows which spec it answers for.
    """

    __tablename__ = "conditions"

    kind: str = Field(primary_key=True)
    name: str = Field(primary_key=True)
    type: str = Field(primary_key=True)
    status: str  # "True" | "False" | "Unknown"
    reason: str
    message: str = ""
    last_transition: float
    observed_generation: int = 0
    last_probe: float = 0.0


class Lease(SQLModel, table=True):
    """Capacity held on a host by a bound claim until `expires`."""

    __tablename__ = "leases"
    __table_args__ = (Index("ix_leases_host", "host"),)

    claim: str = Field(primary_key=True)
    host: str
    memory_bytes: int = Field(sa_column=Column(BIG, nullable=False))
    gpu: bool = False
    acquired: float
    renewed: float
    expires: float


class ClaimStatus(SQLModel, table=True):
    """Where a claim stands in placement: its phase, host, and the reason when it is not bound.

    `observed_generation` is the claim generation this status was decided under: an Expired or
    Released claim is placed again only once its spec changes (or `axis renew` asks for it).
    """

    __tablename__ = "claim_status"

    claim: str = Field(primary_key=True)
    phase: str  # Pending | Bound | Expired | Released
    host: str = ""
    reason: str = ""
    observed_generation: int = 0
    updated_at: float


class Event(SQLModel, table=True):
    """Append-only log of what happened to which object, and why."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_object", "kind", "name"),)

    id: int | None = _id()
    time: float
    kind: str
    name: str
    type: str = "Normal"  # Normal | Warning
    reason: str
    message: str = ""


class Meta(SQLModel, table=True):
    """Key/value facts about the DB itself, such as its schema version."""

    __tablename__ = "axis_meta"

    key: str = Field(primary_key=True)
    value: str


class SourceRow(SQLModel, table=True):
    """A git source the controller follows: its configuration and where it stands.

    `last_attempted`/`last_applied` are revisions (`main@sha1:<sha>`), "" before the first;
    `url` is stored as shown (credentials already replaced), never with a secret in it.
    """

    __tablename__ = "sources"

    name: str = Field(primary_key=True)
    url: str
    ref: str
    path: str
    interval: float
    verify: bool = False  # only commits signed by an allowed key are applied
    suspended: bool = False
    last_attempted: str = ""
    last_applied: str = ""
    last_applied_at: float = 0.0
    created_at: float
    updated_at: float


class SourceAttempt(SQLModel, table=True):
    """One revision a source tried to apply, and how it ended (`finished` 0 while in progress)."""

    __tablename__ = "source_attempts"
    __table_args__ = (Index("ix_source_attempts_source_id", "source", "id"),)

    id: int | None = _id()
    source: str
    revision: str
    time: float
    result: str  # Progressing | Converged | HostsFailed | Superseded | SpecInvalid | VerificationFailed | FetchFailed
    message: str = ""
    hosts_changed: int = 0
    hosts_failed: int = 0
    note: str = ""  # e.g. "force-push: not a descendant of the last applied revision"
    finished: float = 0.0


class HostRevision(SQLModel, table=True):
    """The source revision that last converged a host, for `describe host`."""

    __tablename__ = "host_revisions"

    host: str = Field(primary_key=True)
    source: str
    revision: str
    converged_at: float


class SourcePass(SQLModel, table=True):
    """The last pass over a host a git source stored, by whichever controller held the host: the
    revision in force that the pass planned from (read with the host's spec) and how it ended.
    `seq` rises with every row written (under the DB's one write lock), so the leading
    controller's follower reads only what changed since its last look and settles its attempts
    from what is stored, not from its own passes alone."""

    __tablename__ = "source_passes"
    __table_args__ = (Index("ix_source_passes_seq", "seq"),)

    host: str = Field(primary_key=True)
    source: str
    revision: str
    changed: bool = False
    failed: bool = False
    passed_at: float = 0.0
    seq: int = Field(default=0, sa_column=Column(BIG, nullable=False))


class Job(SQLModel, table=True):
    """A detached job (`axis exec --detach`) and how it ended; `ended` 0 and `exit_code` None
    while it runs. At most one job per claim is `Running` (a partial unique index), so a claim's
    lease follows one job at a time."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_claim", "claim", "started"),
                      Index("ix_jobs_running", "claim", unique=True, sqlite_where=text("state = 'Running'"),
                            postgresql_where=text("state = 'Running'")))

    job_id: str = Field(primary_key=True)  # `<claim>-<12 hex>`, the job directory's name on the host
    claim: str
    host: str
    line: str  # the command line, as the user gave it
    started: float
    state: str  # Running | Succeeded | Failed | OOMKilled | Stopped | Lost
    exit_code: int | None = None
    message: str = ""
    ended: float = 0.0
    stop_requested: float = 0.0  # when `axis stop` asked for it: an ending seen after that is Stopped


class ControllerMember(SQLModel, table=True):
    """One `axis controller` process sharing the hosts (`axis.state.controllers`): live while its
    heartbeat is younger than its own lease and `stopped` is 0 (when it stopped cleanly)."""

    __tablename__ = "controllers"

    name: str = Field(primary_key=True)  # `<machine>-<pid>-<4 hex>`
    pid: int
    machine: str
    started: float
    heartbeat: float
    lease_seconds: float
    stopped: float = 0.0


class Ownership(SQLModel, table=True):
    """Who may act on one host (scope `host`) or hold a role (scope `role`, name `leader`), until
    `expires`; `holder` '' when free. `token` rises with every change of holder: a writer that
    still shows an older token was overtaken (fencing, `axis.state.ownership.check_fence`)."""

    __tablename__ = "ownership"
    __table_args__ = (Index("ix_ownership_holder", "holder"),)

    scope: str = Field(primary_key=True)
    name: str = Field(primary_key=True)
    holder: str = ""
    token: int = Field(default=0, sa_column=Column(BIG, nullable=False))
    acquired: float = 0.0
    expires: float = 0.0
