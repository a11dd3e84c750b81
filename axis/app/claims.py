"""Claims and leases as every front end shows them, and the rule that gives a claim
its phase: Expired (a lease past its time, not yet swept), Running (a live lease and a detached
job that runs under it), Bound, Pending, or what the last placement pass or job ending recorded
(Released, Succeeded, Failed, OOMKilled, Stopped, Lost)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from axis.app.documents import JobView, LeaseList, LeaseView, ObjectStatus, ObjectView
from axis.app.timefmt import iso
from axis.placement.infer import infer
from axis.specs import API_VERSION, Claim
from axis.specs.units import format_duration, human_size
from axis.state.phases import BOUND, EXPIRED, PENDING, RUNNING
from axis.state.snapshot import ClaimStatusRow, JobRow, LeaseRow, ObjectRow, Snapshot
from axis.state.stored_specs import StoredSpecInvalid, to_model

if TYPE_CHECKING:
    from axis.state.tables import Lease


def add_claim_status(snap: Snapshot, views: list[ObjectView], rows: list[ObjectRow], now: float) -> None:
    """Put each claim's placement (phase, host, memory, expiry, reason, newest job) under `status`."""
    seen = snap.claim_statuses()
    held = {lease.claim: lease for lease in snap.leases()}
    newest = snap.newest_jobs()
    for view, row in zip(views, rows, strict=True):
        view["status"] = claim_status(row, seen.get(row.name), held.get(row.name), now, newest.get(row.name))


def claim_status(row: ObjectRow, status: ClaimStatusRow | None, lease: LeaseRow | None, now: float,
                 job: JobRow | None = None) -> ObjectStatus:
    """A claim's phase from its lease (which wins: a lease past `now` is Expired even before a
    pass sweeps it; a live one whose detached job runs is Running) and else from the last
    placement pass or job ending, with the reason people read; its newest job under `job`."""
    running = job is not None and job.state == RUNNING
    if lease is not None and lease.expires <= now:
        phase, reason = EXPIRED, "lease expired; its memory is freed by the next pass"
    elif lease is not None and running and job is not None and job.host == lease.host:
        phase, reason = RUNNING, f"job {job.job_id} runs (detached; `axis logs {row.name}`, `axis stop {row.name}`)"
    elif lease is not None:
        phase, reason = BOUND, ""
        if status is not None and status.observed_generation != row.generation:
            reason = status.reason or (
                f"spec changed after binding (generation {status.observed_generation} → {row.generation}); "
                "the next placement pass re-checks it against its host (`axis apply` or the controller)")
    elif status is None or status.phase == BOUND:
        phase, reason = PENDING, "waiting for the next placement pass (`axis apply`)"
    else:
        phase, reason = status.phase, status.reason
    try:
        spec = to_model(row, Claim).spec
    except StoredSpecInvalid as exc:  # this claim's problem, shown on its row; the others are unaffected
        spec, reason = None, str(exc)
    memory = lease.memory_bytes if lease else (infer(spec).need.memory if spec else None)
    view: ObjectStatus = {"phase": phase, "host": lease.host if lease else None, "memory": human_size(memory),
                          "expires": iso(lease.expires) if lease else None,
                          "expiresIn": _until(lease.expires, now) if lease else None, "reason": reason or None}
    if job is not None:
        view["job"] = job_view(job)
    return view


def job_view(job: JobRow) -> JobView:
    """A detached job as `describe claim` and `-o json` show it."""
    return {"id": job.job_id, "host": job.host, "command": job.line, "state": job.state, "exitCode": job.exit_code,
            "started": iso(job.started), "ended": iso(job.ended) if job.ended else None,
            "message": job.message or None}


def lease_view(lease: LeaseRow | Lease, now: float) -> LeaseView:
    return {"claim": lease.claim, "host": lease.host, "memory": human_size(lease.memory_bytes), "gpu": lease.gpu,
            "acquired": iso(lease.acquired), "renewed": iso(lease.renewed), "expires": iso(lease.expires),
            "expiresIn": _until(lease.expires, now)}


def lease_list_view(items: list[LeaseView]) -> LeaseList:
    """The `LeaseList` document around lease views (`get leases -o json`, `GET /leases`)."""
    return {"apiVersion": API_VERSION, "kind": "LeaseList", "items": items}


def _until(expires: float, now: float) -> str:
    """`in 45m` / `expired 3m ago`: whole minutes once past one, as people read a countdown."""
    left = expires - now
    seconds = abs(left)
    shown = format_duration(max(1, round(seconds / 60) * 60 if seconds >= 60 else int(seconds)))
    return f"in {shown}" if left > 0 else f"expired {shown} ago"
