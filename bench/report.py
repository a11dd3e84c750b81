"""The bench's report: the table (figure, axis, peer, ratio axis/peer, target, PASS/FAIL), the
CPU seconds of every tool, and the JSON result file with every sample and the run's metadata."""

from __future__ import annotations

import json
import os
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.timing import Figure

#: Every figure the table needs; a run that skipped one writes its figures without a table.
TABLE_FIGURES = {"axis_status", "ansible_setup", "ansible_setup_min", "pyinfra_facts", "axis_apply", "ssh_true",
                 "ansible_check", "placement_scoring", "placement_ledger", "rss"}
#: The figures measured on the test hosts, whose CPU seconds are split into client and hosts.
FLEET_FIGURES = ("axis_status", "ansible_setup", "ansible_setup_min", "pyinfra_facts",
                 "axis_apply", "ssh_true", "ansible_check")


@dataclass
class Row:
    """One line of the table, every cell already text."""

    figure: str
    axis: str
    peer: str
    ratio: str
    target: str
    result: str  # PASS / FAIL / "" (for information)


def fmt(fig: Figure) -> str:
    """median [min-max] in the figure's unit."""
    if fig.unit == "s":
        return f"{fig.median:.3f} s [{min(fig.samples):.3f}-{max(fig.samples):.3f}]"
    return f"{fig.median:.1f} {fig.unit} [{min(fig.samples):.1f}-{max(fig.samples):.1f}]"


def speed_row(figure: str, axis: Figure, peer: Figure, need: float | None) -> Row:
    """axis against one peer; `need` is the speed-up the target asks for (None: for information)."""
    ratio = axis.median / peer.median
    faster = peer.median / axis.median
    target = f"axis >= {need:g}x faster" if need else "(for information)"
    result = ("PASS" if faster >= need else "FAIL") if need else ""
    speed = f"{faster:.1f}x faster" if faster >= 1 else f"{1 / faster:.1f}x slower"
    return Row(figure, fmt(axis), f"{peer.name}: {fmt(peer)}", f"{ratio:.3f} (axis {speed})", target, result)


def build_rows(f: dict[str, Figure]) -> list[Row]:
    """The table's rows from every figure (TABLE_FIGURES), each with its target."""
    floor = f["ssh_true"]
    within = f["axis_apply"].median / floor.median
    rows = [
        speed_row("1 facts", f["axis_status"], f["ansible_setup"], 10),
        speed_row("1 facts", f["axis_status"], f["ansible_setup_min"], None),
        speed_row("1 facts", f["axis_status"], f["pyinfra_facts"], 3),
        Row("2 no-op converge", fmt(f["axis_apply"]), f"{floor.name}: {fmt(floor)}", f"{within:.2f}",
            "axis <= 2x the ssh floor", "PASS" if within <= 2 else "FAIL"),
        speed_row("2 no-op converge", f["axis_apply"], f["ansible_check"], None),
        Row("3 placement", f"scoring {fmt(f['placement_scoring'])}", "-", "-", "< 1 s for 10,000 claims",
            "PASS" if f["placement_scoring"].median < 1 else "FAIL"),
        Row("3 placement", f"with ledger writes {fmt(f['placement_ledger'])}", "-", "-", "(for information)", ""),
        Row("4 memory", f"peak RSS {fmt(f['rss'])}", "-", "-", "< 150 MB at 1,000 hosts",
            "PASS" if f["rss"].median < 150 else "FAIL"),
    ]
    return rows


def print_table(rows: list[Row]) -> None:
    """The rows under a header, columns padded to their widest cell."""
    head = Row("FIGURE", "AXIS (median [min-max])", "PEER (median [min-max])", "AXIS/PEER", "TARGET", "RESULT")
    widths = [max(len(getattr(r, k)) for r in [head, *rows]) for k in Row.__dataclass_fields__]
    for r in [head, *rows]:
        print("  ".join(getattr(r, k).ljust(w) for k, w in zip(Row.__dataclass_fields__, widths, strict=True)).rstrip())



def report(figures: dict[str, Figure], meta: dict[str, Any], out: Path) -> None:
    """Print the summary, the table and the CPU seconds (when every figure is there), write `out`."""
    meta["load_at_end"] = os.getloadavg()
    print(f"\nN = {meta['hosts']} hosts, {meta['reps']} repetitions, {os.cpu_count()} CPUs; "
          f"load average at start {_loads(meta['load_at_start'])}, at end {_loads(meta['load_at_end'])}")
    print("Peak RSS = ru_maxrss of a process that imported all of axis and holds 1,000 hosts' specs, their newest "
          "facts as Facts models and the placement index (MB = MiB).")
    rows = build_rows(figures) if TABLE_FIGURES <= figures.keys() else []
    if rows:
        print()
        print_table(rows)
        print("\nCPU seconds per run (median): the tool's own processes / inside the test hosts / total")
        for key in FLEET_FIGURES:
            fig = figures[key]
            client, hosts = statistics.median(fig.cpu_client), statistics.median(fig.cpu_hosts)
            print(f"  {fig.name:26s} {client:6.2f} / {hosts:6.2f} / {client + hosts:6.2f}")
    result = {"meta": meta, "figures": {k: v.as_json() for k, v in figures.items()},
              "table": [r.__dict__ for r in rows]}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwritten: {out}")


def _loads(loads: Any) -> str:
    return " ".join(f"{x:.2f}" for x in loads)
