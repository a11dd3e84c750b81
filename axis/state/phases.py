"""The values of `claim_status.phase` and `jobs.state`: the phase a claim takes and how its
detached job stands. Plain constants apart from the code that writes them, so that the views that
show claims (`axis get claims`, read through `axis.state.snapshot`) import no SQLAlchemy."""

from __future__ import annotations

#: A claim's placement phase, as the placement pass (`axis.placement.ledger`) records it.
PENDING, BOUND, EXPIRED, RELEASED = "Pending", "Bound", "Expired", "Released"

#: A detached job that runs; a claim whose lease it runs under shows this phase.
RUNNING = "Running"
SUCCEEDED, FAILED, OOM_KILLED, STOPPED, LOST = "Succeeded", "Failed", "OOMKilled", "Stopped", "Lost"
#: How a job can end; each is also the phase its claim takes when it does.
ENDED = (SUCCEEDED, FAILED, OOM_KILLED, STOPPED, LOST)
