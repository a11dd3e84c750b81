"""Per-host, per-feature status: the state last observed and the live steps the host refused.

Status is rebuilt from observation on every pass; the one thing carried over is which live
steps a host refused for the current settings, so that a namespaced host is told "refused"
once instead of having swapon retried on every pass. A change of settings forgets it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlmodel import Session, col, delete, select

from axis.state.tables import FeatureStatus


@dataclass(frozen=True)
class FeatureRow:
    feature: str
    state: str
    reason: str
    message: str
    settings_hash: str
    refused: dict[str, str]


def refused_steps(session: Session, host: str, settings_hashes: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """feature → {step key: host message}, only where the stored settings hash still matches."""
    rows = session.exec(select(FeatureStatus).where(FeatureStatus.host == host)).all()
    return {r.feature: dict(r.refused) for r in rows
            if r.refused and settings_hashes.get(r.feature) == r.settings_hash}


def store_feature_status(session: Session, host: str, rows: Iterable[FeatureRow], *, generation: int,
                         now: float) -> None:
    """Replace the host's feature rows with this pass's (features no longer listed disappear)."""
    session.exec(delete(FeatureStatus).where(col(FeatureStatus.host) == host))
    for row in rows:
        session.add(FeatureStatus(host=host, feature=row.feature, state=row.state, reason=row.reason,
                                  message=row.message, observed_generation=generation, updated_at=now,
                                  settings_hash=row.settings_hash, refused=row.refused))
