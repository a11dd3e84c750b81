"""The bench's report: the table (each of issue 21's goals with PASS/FAIL, and the figures shown
for information), the CPU seconds of every fleet figure, and the JSON result file with every
sample and the run's metadata (date, commit, load). A run that skipped figures gets the rows of
the figures it has."""

from __future__ import annotations

import json
import os
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.startup import STARTUP_GOAL_KEYS, STARTUP_GOAL_SECONDS
from bench.timing import Figure

#: Issue 21's goals (besides the start-up one, bench.startup.STARTUP_GOAL_SECONDS).
STATUS_FLOOR_MAX = 1.3  # `axis status` (cold) within 1.3x the floor
APPLY_FLOOR_MAX = 1.5  # no-op `axis apply` (cold) within 1.5x the floor
PYINFRA_SPEEDUP = 1.5  # `axis status` at least 1.5x faster than pyinfra's 8 facts
ANSIBLE_SPEEDUP = 10.0  # `axis status` at least 10x faster than `ansible -m setup`
WARM_STATUS_MAX = 0.3  # seconds, `axis status` beside a controller (the goal is set at N = 50)
PASS_CPU_RATIO = 5.0  # controller CPU per no-op host pass at least 5x less warm than cold
PLACEMENT_MAX, RSS_MAX = 1.0, 150.0  # seconds for 10,000 claims; MiB at 1,000 hosts

#: The figures measured on the test hosts, whose CPU seconds are split into client and hosts.
FLEET_FIGURES = ("floor", "axis_status", "axis_apply", "pyinfra_facts", "ansible_setup", "ansible_setup_min",
                 "ansible_check", "ssh_true", "floor_warm", "axis_status_warm", "axis_apply_warm",
                 "ansible_setup_warm", "ansible_check_warm")


@dataclass
class Row:
    """One line of the table, every cell already text."""

    figure: str
    axis: str
    peer: str
    ratio: str
    target: str
    result: str  # PASS / FAIL / "" (for information) / "n/a"


def fmt(fig: Figure) -> str:
    """median [min-max] in the figure's unit (one sample: just it)."""
    digits = 3 if fig.unit == "s" else 1 if fig.unit == "MB" else 2
    if len(fig.samples) == 1:
        return f"{fig.median:.{digits}f} {fig.unit}"
    return f"{fig.median:.{digits}f} {fig.unit} [{fig.best:.{digits}f}-{max(fig.samples):.{digits}f}]"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def speed_row(figure: str, axis: Figure, peer: Figure, need: float | None) -> Row:
    """axis against one peer; `need` is the speed-up the goal asks for (None: for information)."""
    faster = peer.median / axis.median
    speed = f"{faster:.1f}x faster" if faster >= 1 else f"{1 / faster:.1f}x slower"
    target = f"axis >= {need:g}x faster" if need else "(for information)"
    return Row(figure, fmt(axis), f"{peer.name}: {fmt(peer)}", f"{axis.median / peer.median:.3f} (axis {speed})",
               target, verdict(faster >= need) if need else "")


def cpu_total(fig: Figure) -> float | None:
    """Median CPU seconds of one run, the tool's own and inside the test hosts (None: not counted)."""
    if not fig.cpu_client or not fig.cpu_hosts:
        return None
    return statistics.median(c + h for c, h in zip(fig.cpu_client, fig.cpu_hosts, strict=True))


def floor_row(figure: str, axis: Figure, floor: Figure, most: float | None) -> Row:
    """axis against the floor measured in the same rounds; `most` the ratio allowed (None: information).
    The verdict is on wall time (the goal's); the CPU ratio beside it barely moves with the load."""
    ratio = axis.median / floor.median
    axis_cpu, floor_cpu = cpu_total(axis), cpu_total(floor)
    cpu = f"; CPU {axis_cpu / floor_cpu:.2f}x" if axis_cpu is not None and floor_cpu else ""
    target = f"<= {most:g}x the floor" if most else "(for information)"
    return Row(figure, fmt(axis), f"{floor.name}: {fmt(floor)}", f"{ratio:.2f}x the floor{cpu}", target,
               verdict(ratio <= most) if most else "")


def limit_row(figure: str, fig: Figure, most: float | None, target: str) -> Row:
    """One figure against an absolute limit on its median (None: for information)."""
    return Row(figure, fmt(fig), "-", "-", target if most else "(for information)",
               verdict(fig.median <= most) if most else "")


def build_rows(f: dict[str, Figure], meta: dict[str, Any]) -> list[Row]:
    """The table's rows for the figures that are there (a skipped group has none)."""
    rows: list[Row] = []
    if "floor" in f:
        pairs = [("axis_status", "status (cold)", STATUS_FLOOR_MAX), ("axis_apply", "no-op apply (cold)", APPLY_FLOOR_MAX)]
        rows += [floor_row(label, f[key], f["floor"], most) for key, label, most in pairs if key in f]
    if "axis_status" in f:
        rows += [speed_row("status (cold)", f["axis_status"], f[peer], need)
                 for peer, need in (("pyinfra_facts", PYINFRA_SPEEDUP), ("ansible_setup", ANSIBLE_SPEEDUP),
                                    ("ansible_setup_min", None)) if peer in f]
    if "axis_apply" in f and "ansible_check" in f:
        rows.append(speed_row("no-op apply (cold)", f["axis_apply"], f["ansible_check"], None))
    if "floor" in f and "ssh_true" in f:
        rows.append(floor_row("ssh HOST true fan-out", f["ssh_true"], f["floor"], None))
    if "axis_status_warm" in f:
        rows.append(limit_row("status (warm)", f["axis_status_warm"], WARM_STATUS_MAX,
                              f"<= {WARM_STATUS_MAX:g} s (goal at N = 50)"))
    for key, label, peer in (("axis_status_warm", "status (warm)", "ansible_setup_warm"),
                             ("axis_apply_warm", "no-op apply (warm)", "ansible_check_warm")):
        if key in f and "floor_warm" in f:
            rows.append(floor_row(label, f[key], f["floor_warm"], None))
        if key in f and peer in f:
            rows.append(speed_row(label, f[key], f[peer], None))
    for warm, cold in (("ansible_setup_warm", "ansible_setup"), ("ansible_check_warm", "ansible_check")):
        # Measured in different groups (under different loads): compared by CPU seconds per run.
        warm_cpu, cold_cpu = (cpu_total(f[warm]), cpu_total(f[cold])) if warm in f and cold in f else (None, None)
        if warm_cpu is not None and cold_cpu:
            rows.append(Row("Ansible ControlPersist", f"{f[warm].name}: {warm_cpu:.2f} CPU s/run",
                            f"cold: {cold_cpu:.2f} CPU s/run", f"{warm_cpu / cold_cpu:.2f}", "(for information)", ""))
    rows += _pass_cpu_rows(f, meta)
    for key in (k for k in f if k.startswith("startup_")):
        fig = f[key]
        goal = key in STARTUP_GOAL_KEYS
        rows.append(Row("start-up", f"{fig.name}: best {fig.best:.3f} s, median {fig.median:.3f} s", "-", "-",
                        f"median <= {STARTUP_GOAL_SECONDS:g} s" if goal else "(for information)",
                        verdict(fig.median <= STARTUP_GOAL_SECONDS) if goal else ""))
    if "placement_scoring" in f:
        rows.append(limit_row("placement", f["placement_scoring"], PLACEMENT_MAX, "< 1 s for 10,000 claims"))
    if "placement_ledger" in f:
        rows.append(limit_row("placement with ledger writes", f["placement_ledger"], None, ""))
    if "rss" in f:
        rows.append(limit_row("memory: peak RSS", f["rss"], RSS_MAX, "< 150 MB at 1,000 hosts"))
    for key in ("dashboard_page", "dashboard_fragment", "dashboard_unchanged", "dashboard_host"):
        if key in f:  # no goal: how the page behaves at 200 hosts, with its size over the wire
            extra = f[key].extra
            rows.append(Row(f[key].name, fmt(f[key]), f"{extra['bytes']} B, gzip {extra['gzip_bytes']} B", "-",
                            "(for information)", ""))
    return rows


def _pass_cpu_rows(f: dict[str, Figure], meta: dict[str, Any]) -> list[Row]:
    """Controller CPU per no-op host pass, cold against warm; or why it was not measured."""
    target = f">= {PASS_CPU_RATIO:g}x less warm"
    if "pass_cpu_cold" in f and "pass_cpu_warm" in f:
        cold, warm = f["pass_cpu_cold"].median, f["pass_cpu_warm"].median
        less = cold / warm if warm > 0 else float("inf")
        return [Row("controller CPU/host pass", f"warm {fmt(f['pass_cpu_warm'])}", f"cold {fmt(f['pass_cpu_cold'])}",
                    f"{less:.1f}x less warm", target, verdict(less >= PASS_CPU_RATIO))]
    if meta.get("pass_cpu_unavailable"):
        return [Row("controller CPU/host pass", meta["pass_cpu_unavailable"], "-", "-", target, "n/a")]
    return []


def print_table(rows: list[Row]) -> None:
    """The rows under a header, columns padded to their widest cell."""
    head = Row("FIGURE", "AXIS (median [min-max])", "REFERENCE (median [min-max])", "RATIO", "TARGET", "RESULT")
    widths = [max(len(getattr(r, k)) for r in [head, *rows]) for k in Row.__dataclass_fields__]
    for r in [head, *rows]:
        print("  ".join(getattr(r, k).ljust(w) for k, w in zip(Row.__dataclass_fields__, widths, strict=True)).rstrip())


def report(figures: dict[str, Figure], meta: dict[str, Any], out: Path) -> None:
    """Print the summary, the table and the CPU seconds, write `out`."""
    meta["load_at_end"] = os.getloadavg()
    print(f"\nN = {meta['hosts']} hosts, {meta['reps']} repetitions, {os.cpu_count()} CPUs, commit {meta['axis_commit']}; "
          f"load average at start {_loads(meta['load_at_start'])}, at end {_loads(meta['load_at_end'])}")
    if "rss" in figures:
        print("Peak RSS = ru_maxrss of a process that imported all of axis and holds 1,000 hosts' specs, their "
              "newest facts as Facts models and the placement index (MB = MiB).")
    rows = build_rows(figures, meta)
    print()
    print_table(rows)
    fleet = [key for key in FLEET_FIGURES if key in figures]
    if fleet:
        print("\nCPU seconds per run (median): the tool's own processes / inside the test hosts / total")
        for key in fleet:
            fig = figures[key]
            client, hosts = statistics.median(fig.cpu_client), statistics.median(fig.cpu_hosts)
            print(f"  {fig.name:34s} {client:6.2f} / {hosts:6.2f} / {client + hosts:6.2f}")
    failed = [r for r in rows if r.result == "FAIL"]
    print(f"\ngoals: {sum(r.result == 'PASS' for r in rows)} PASS, {len(failed)} FAIL"
          + "".join(f"\n  FAIL {r.figure}: {r.axis} (target {r.target})" for r in failed))
    if meta.get("error"):
        print(f"\nthe run stopped early (bench failed): {meta['error'].splitlines()[0]}")
    result = {"meta": meta, "figures": {k: v.as_json() for k, v in figures.items()},
              "table": [r.__dict__ for r in rows]}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwritten: {out}")


def _loads(loads: Any) -> str:
    return " ".join(f"{x:.2f}" for x in loads)
