"""Per-host, per-feature status: the state last observed and the live steps the host refused.

Status is rebuilt from observation on every pass; the one thing carried over is which live
steps a host refused for the current settings, so that a namespaced host is told "refused"
once instead of having swapon retried on every pass. A change of settings forgets it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import insert
from sqlmodel import Session, delete, select

from axis.state.tables import FeatureStatus

_TABLE = FeatureStatus.__table__  # type: ignore[attr-defined]  # SQLModel's table: not in its stubs


@dataclass(frozen=True)
class FeatureRow:
    feature: str
    state: str
    reason: str
    message: str
    settings_hash: str
    refused: dict[str, str]


def refused_steps(session: Session, host: str, settings_hashes: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """feature → {step key: host message}, only where the stored settings hash still matches.
    Three columns, not the ORM rows: every host pass plans with it."""
    rows = session.connection().execute(select(_TABLE.c.feature, _TABLE.c.settings_hash, _TABLE.c.refused)
                                        .where(_TABLE.c.host == host))
    return {feature: dict(refused) for feature, settings_hash, refused in rows
            if refused and settings_hashes.get(feature) == settings_hash}


def store_feature_status(session: Session, host: str, rows: Iterable[FeatureRow], *, generation: int,
                         now: float) -> None:
    """Replace the host's feature rows with this pass's (features no longer listed disappear):
    one DELETE and one INSERT, plain statements, not the ORM's unit of work (every host pass
    writes them)."""
    conn = session.connection()
    conn.execute(delete(_TABLE).where(_TABLE.c.host == host))
    values = [{"host": host, "feature": row.feature, "state": row.state, "reason": row.reason, "message": row.message,
               "observed_generation": generation, "updated_at": now, "settings_hash": row.settings_hash,
               "refused": row.refused} for row in rows]
    if values:
        conn.execute(insert(_TABLE), values)

