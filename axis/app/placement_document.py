"""The placement document, `axis place TASK -o json` and the MCP's `rank_hosts`: the hosts ranked
for a task (advisory, no lease taken); its types, and how it is built from a ranking."""

from __future__ import annotations

from typing import TYPE_CHECKING

from typing_extensions import TypedDict

from axis.specs.units import human_size

if TYPE_CHECKING:  # the scorer itself loads only where a ranking is made (app.operations)
    from axis.placement.infer import Inference
    from axis.placement.scorer import Placement, Ranked


class NeedView(TypedDict):
    tools: list[str]
    memory: str
    gpuRequired: bool
    gpuWanted: bool
    os: str | None
    selector: dict[str, str]


class TermView(TypedDict):
    points: int
    why: str


class RankedHost(TypedDict):
    rank: int
    host: str
    fit: int
    terms: dict[str, TermView]
    pressure: str
    allocatable: str
    effective: str
    reserved: str  # share of the host's memory already leased, e.g. 25%
    gpu: str | None
    cores: int
    local: bool


class RejectedHost(TypedDict):
    host: str
    reasons: list[str]


class PlacementDocument(TypedDict):
    """`axis place TASK -o json`: the hosts ranked for a task (advisory, no lease taken)."""

    task: str
    needs: NeedView
    inferred: list[str]
    best: str | None
    ranked: list[RankedHost]
    rejected: list[RejectedHost]


def placement_doc(task: str, inference: Inference, placement: Placement) -> PlacementDocument:
    need = inference.need
    return {
        "task": task,
        "needs": {"tools": list(need.tools), "memory": human_size(need.memory), "gpuRequired": need.gpu_required,
                  "gpuWanted": need.gpu_wanted, "os": need.os, "selector": dict(need.selector)},
        "inferred": list(inference.reasons),
        "best": placement.best.host.name if placement.best else None,
        "ranked": [_ranked(i + 1, r) for i, r in enumerate(placement.ranked)],
        "rejected": [{"host": r.host, "reasons": list(r.reasons)} for r in placement.rejected],
    }


def _ranked(position: int, r: Ranked) -> RankedHost:
    h = r.host
    return {"rank": position, "host": h.name, "fit": r.score,
            "terms": {t.name: {"points": t.points, "why": t.why} for t in r.terms},
            "pressure": h.pressure, "allocatable": human_size(h.allocatable), "effective": human_size(h.effective),
            "reserved": f"{h.ratio:.0%}", "gpu": h.gpu, "cores": h.cores, "local": h.local}
