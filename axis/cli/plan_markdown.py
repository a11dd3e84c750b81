"""`axis diff -o markdown`: the plan document as a pull-request comment (GitHub-flavoured).

What a host or a spec said (reasons, step summaries, file diffs, refusal messages) reaches the
comment only inside code: an inline code span whose backtick run is longer than any in the text,
or a fenced block whose fence is longer than any backtick run in it. In code, markdown, HTML,
`@mentions` and `#123` links are not interpreted, so no host can close the comment's `<details>`,
hide text in an HTML comment, ping people or fake a row. Controls and bidi overrides are shown
escaped (`axis.specs.text.visible`), and a `|` in a table cell is escaped as GFM requires.

GitHub refuses a comment over 65,536 characters: the text is kept under `BUDGET` bytes of UTF-8
(a byte is never fewer than a character), long diffs are cut, and hosts that no longer fit are
named in a closing note that points to the full JSON plan.
"""

from __future__ import annotations

import html
import re

from axis.app.plan_document import ACTIONS, HostPlan, PlanDocument, PlannedStep
from axis.specs.text import visible

#: The first line: how a CI job finds the comment it posted before, to update it in place.
MARKER = "<!-- axis-plan -->"
#: Bytes the comment may take; the rest of GitHub's 65,536 is left for a CI job's own lines.
BUDGET = 60_000
DIFF_LINES = 80
DIFF_CHARS = 6_000
INLINE_CHARS = 300
#: Bytes kept back for the closing note while hosts are added.
_RESERVE = 2_000

_OPS = {word: op for op, word in ACTIONS.items()}
_STATUS = {"pending": "🟡 pending", "in-sync": "✅ in sync", "unreachable": "🔴 unreachable", "failed": "🔴 failed"}


def _longest_backtick_run(text: str) -> int:
    return max((len(m) for m in re.findall("`+", text)), default=0)


def code(text: str, *, cell: bool = False) -> str:
    """`text` as one inline code span: one line, cut to INLINE_CHARS, nothing in it interpreted."""
    flat = " ".join(visible(text).split())
    if len(flat) > INLINE_CHARS:
        flat = flat[:INLINE_CHARS - 1] + "…"
    if not flat:
        return ""
    ticks = "`" * (_longest_backtick_run(flat) + 1)
    pad = " " if flat[0] in "` " or flat[-1] in "` " else ""
    span = f"{ticks}{pad}{flat}{pad}{ticks}"
    return span.replace("|", "\\|") if cell else span


def fenced(text: str, lang: str = "diff") -> str:
    """`text` as a fenced block, cut to DIFF_LINES lines / DIFF_CHARS characters with a note."""
    lines = [visible(line) for line in text.splitlines()]
    kept: list[str] = []
    size = 0
    for line in lines[:DIFF_LINES]:
        if size + len(line) > DIFF_CHARS:
            break
        kept.append(line)
        size += len(line) + 1
    fence = "`" * max(3, _longest_backtick_run("\n".join(kept)) + 1)
    block = f"{fence}{lang}\n" + "".join(line + "\n" for line in kept) + fence
    cut = len(lines) - len(kept)
    return block + (f"\n\n*{cut} more line(s) cut; the full diff is in the JSON plan.*" if cut else "")


def _headline(plan: PlanDocument) -> str:
    s = plan.summary
    return (f"### axis plan: {s.to_change} to change, {s.in_sync} in sync, {s.unreachable} unreachable, "
            f"{s.failed} failed ({s.steps} step(s) on {s.hosts} host(s))")


def _row(h: HostPlan) -> str:
    return f"| {code(h.host, cell=True)} | {_STATUS[h.status]} | {len(h.steps)} | {code(h.reason or '', cell=True)} |"


def _step(step: PlannedStep) -> str:
    live = " *(live)*" if step.live else ""
    head = f"{code(_OPS[step.action])} {code(step.feature)} {code(step.summary)}{live}"
    return head + ("\n\n" + fenced(step.diff) if step.diff else "")


def _notes(h: HostPlan) -> list[str]:
    """A line per feature that will not simply converge: refused (each step the host refused,
    with its words), failed (the probe's error), not applicable (why)."""
    lines = []
    for f in h.features:
        if f.refused:
            lines += [f"- {code(f.feature)} refused earlier, not retried: {code(r.summary)}: {code(r.host_message)}"
                      for r in f.refused]
        elif f.state in ("refused", "failed", "not-applicable"):
            lines.append(f"- {code(f.feature)} {f.state}: {code(f.message)}")
    return lines


def _details(h: HostPlan) -> str | None:
    """One host's steps and notes in a collapsed block (the summary holds only escaped text);
    None when it has neither (its reason is in the table)."""
    notes = _notes(h)
    if not h.steps and not notes:
        return None
    title = f"{len(h.steps)} step(s)" if h.steps else _STATUS[h.status].split(" ", 1)[1]
    parts = [f"<details><summary><code>{html.escape(visible(h.host))}</code>: {title}</summary>", ""]
    if h.reason:
        parts += [f"Reason: {code(h.reason)}", ""]
    parts += [p for step in h.steps for p in (_step(step), "")]
    if notes:
        parts += [*notes, ""]
    parts.append("</details>")
    return "\n".join(parts)


class _Text:
    """Markdown parts added while they fit in the byte budget."""

    def __init__(self, budget: int) -> None:
        self.parts: list[str] = []
        self.budget = budget
        self.used = 0

    def add(self, part: str, *, keep: int = _RESERVE) -> bool:
        size = len(part.encode()) + 1
        if self.used + size > self.budget - keep:
            return False
        self.parts.append(part)
        self.used += size
        return True


def render_markdown(plan: PlanDocument, *, budget: int = BUDGET) -> str:
    """The comment: headline, a table of the hosts that are not in sync, the in-sync hosts on one
    line, the spec's warnings, then per host not in sync a collapsed block with its steps, diffs
    and notes; what does not fit is named at the end."""
    out = _Text(budget)
    out.add(MARKER, keep=0)
    out.add(_headline(plan) + "\n", keep=0)
    todo = [h for h in plan.hosts if h.status != "in-sync"]
    left: list[str] = []
    if todo:
        out.add("| host | status | steps | reason |\n|---|---|---|---|")
        left = [h.host for h in todo if not out.add(_row(h))]
        out.add("")
    in_sync = [h.host for h in plan.hosts if h.status == "in-sync"]
    if in_sync and not out.add(f"In sync: {', '.join(code(n) for n in in_sync)}\n"):
        out.add(f"In sync: {len(in_sync)} host(s).\n")
    for warning in plan.warnings:
        out.add(f"> warning: {code(warning)}\n")
    no_row = set(left)
    for h in todo:
        details = _details(h)
        if details is not None and h.host not in no_row and not out.add(details + "\n"):
            left.append(h.host)
    if left:
        named = ", ".join(code(n) for n in left[:20]) + (f" and {len(left) - 20} more" if len(left) > 20 else "")
        out.add(f"\n*Left out to stay under GitHub's comment limit: {named}. The full plan is in the JSON "
                "document (`axis diff -o json`).*", keep=0)
    out.add(f"\n<sub>axis plan format {plan.format_version}, generated {code(plan.generated_at)}</sub>", keep=0)
    return "\n".join(out.parts) + "\n"
