"""The state a feature is in on a host after a pass, as `feature_status.state` stores it and the
documents show it: apart from the convergence code (`axis.reconcile.converge`) so that the
documents (`axis.app.documents`) import neither it nor the state DB's ORM."""

from __future__ import annotations

from typing import Literal

FeatureState = Literal["in-sync", "pending", "applied", "refused", "failed", "not-applicable"]
