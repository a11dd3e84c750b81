"""How claims, leases and placements look to people: tables, the `--explain` lines, and the
compact `axis place --context` block for pasting into an agent's prompt (the documents behind
them are `axis.app.claims`')."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from axis.app.documents import LeaseView, ObjectView
from axis.app.placement_document import PlacementDocument
from axis.specs.models import ClaimSpec
from axis.specs.units import format_duration, human_size

if TYPE_CHECKING:  # only `axis place` has a Placement, and it loads the scorer itself
    from axis.placement.scorer import Placement

#: What a claim whose spec leaves `ttl` out is leased for, as the table shows it.
TTL_DEFAULT = format_duration(ClaimSpec.model_fields["ttl"].default)


def claim_table(views: list[ObjectView], wide: bool) -> tuple[list[str], list[list[Any]]]:
    headers = ["NAME", "PHASE", "HOST", "MEMORY", "EXPIRES", "REASON"] + (["TASK", "TTL", "GEN"] if wide else [])
    body = [[v["metadata"]["name"], v["status"]["phase"], v["status"]["host"], v["status"]["memory"],
             v["status"]["expiresIn"], v["status"]["reason"]]
            + ([v["spec"]["task"], v["spec"].get("ttl", TTL_DEFAULT), v["metadata"]["generation"]] if wide else [])
            for v in views]
    return headers, body


def lease_table(views: list[LeaseView]) -> tuple[list[str], list[list[Any]]]:
    headers = ["CLAIM", "HOST", "MEMORY", "GPU", "ACQUIRED", "RENEWED", "EXPIRES"]
    return headers, [[v["claim"], v["host"], v["memory"], "yes" if v["gpu"] else "no", v["acquired"],
                      v["renewed"], v["expiresIn"]] for v in views]


def placement_table(doc: PlacementDocument) -> tuple[list[str], list[list[Any]]]:
    headers = ["RANK", "HOST", "FIT", "PRESSURE", "EFFECTIVE", "ALLOCATABLE", "RESERVED", "GPU", "CORES"]
    return headers, [[r["rank"], r["host"], r["fit"], r["pressure"], r["effective"], r["allocatable"], r["reserved"],
                      r["gpu"], r["cores"]] for r in doc["ranked"]]


def explain_lines(doc: PlacementDocument) -> list[str]:
    """What was inferred and why, then each ranked host's score as a sum of its terms."""
    lines = [f"task: {doc['task']}", "inferred:"] + [f"  {reason}" for reason in doc["inferred"]]
    lines.append("fit scores (the ranking decides; the score explains):")
    for r in doc["ranked"]:
        terms = " + ".join(f"{name} {t['points']} ({t['why']})" for name, t in r["terms"].items())
        lines.append(f"  {r['host']}: {r['fit']} = {terms}")
    if not doc["ranked"]:
        lines.append("  (no eligible host)")
    return lines


def context_block(doc: PlacementDocument, placement: Placement) -> str:
    """A few plain lines an agent can read: where to run the task and what is there."""
    lines = ["# axis placement context", f"task: {doc['task']}"]
    best = placement.best
    if best is None:
        lines += ["best node: none", f"summary: {placement.why_not()}"]
        return "\n".join(lines)
    h = best.host
    runners = ", ".join(f"{r.host.name} (fit {r.score})" for r in placement.ranked[1:3]) or "none"
    lines += [
        f"best node: {h.name} (fit {best.score}/100{', this machine' if h.local else ''})",
        f"RAM: {human_size(h.allocatable)} allocatable of {human_size(h.cap)}, {human_size(h.available)} available now",
        f"pressure: {h.pressure}",
        f"tools: {', '.join(sorted(h.tools)) or 'none found'}",
        f"gpu: {h.gpu or 'none'}",
        f"summary: {len(placement.ranked)} of {len(placement.ranked) + len(placement.rejected)} hosts eligible; "
        f"needs {doc['needs']['memory']}"
        + (f", tools {', '.join(doc['needs']['tools'])}" if doc["needs"]["tools"] else "")
        + f"; runners-up: {runners}",
    ]
    return "\n".join(lines)
