"""bench/report.py's verdicts: each of issue 21's goals turns into PASS or FAIL from the figures'
medians, figures a run skipped give no row, and a missing pass-CPU script is "n/a". Synthetic
figures only: no timing here (the bench measures; this checks its arithmetic)."""

from __future__ import annotations

from bench.report import build_rows
from bench.timing import Figure


def fig(name: str, *samples: float, unit: str = "s") -> Figure:
    return Figure(name, name, unit=unit, samples=list(samples))


def verdicts(figures: dict[str, Figure], meta: dict[str, object] | None = None) -> list[tuple[str, str, str]]:
    return [(r.figure, r.target, r.result) for r in build_rows(figures, meta or {})]


def test_cold_goals_against_floor_and_peers_use_medians() -> None:
    figures = {
        "floor": fig("floor", 0.5, 0.4, 0.9),  # median 0.5
        "axis_status": fig("axis status", 0.65, 0.6, 3.0),  # median 0.65 = 1.3x the floor: PASS (limit included)
        "axis_apply": fig("axis apply", 0.8, 0.76, 0.7),  # median 0.76 = 1.52x: FAIL
        "pyinfra_facts": fig("pyinfra", 0.9, 1.0, 1.1),  # 1.0 / 0.65 = 1.54x faster: PASS
        "ansible_setup": fig("ansible", 6.0, 6.4, 7.0),  # 6.4 / 0.65 = 9.8x faster: FAIL
    }
    assert verdicts(figures) == [
        ("status (cold)", "<= 1.3x the floor", "PASS"),
        ("no-op apply (cold)", "<= 1.5x the floor", "FAIL"),
        ("status (cold)", "axis >= 1.5x faster", "PASS"),
        ("status (cold)", "axis >= 10x faster", "FAIL"),
    ]


def test_warm_status_start_up_and_pass_cpu_goals() -> None:
    figures = {
        "axis_status_warm": fig("axis status (warm)", 0.31, 0.29, 0.2),  # median 0.29: PASS
        "startup_get_hosts": fig("axis get hosts", 0.2, 0.26, 0.3),  # median 0.26: FAIL
        "startup_version": fig("axis --version", 0.9, 0.9, 0.9),  # no goal: for information
        "pass_cpu_cold": fig("cold", 10.0, unit="ms"),
        "pass_cpu_warm": fig("warm", 2.0, unit="ms"),  # exactly 5x less: PASS
    }
    rows = verdicts(figures)
    assert ("status (warm)", "<= 0.3 s (goal at N = 50)", "PASS") in rows
    assert ("controller CPU/host pass", ">= 5x less warm", "PASS") in rows
    assert ("start-up", "median <= 0.25 s", "FAIL") in rows
    assert ("start-up", "(for information)", "") in rows
    figures["pass_cpu_warm"] = fig("warm", 2.5, unit="ms")
    assert ("controller CPU/host pass", ">= 5x less warm", "FAIL") in verdicts(figures)


def test_skipped_figures_give_no_rows_and_a_missing_script_is_not_available() -> None:
    assert verdicts({}) == []
    meta = {"pass_cpu_unavailable": "not available: bench/pass_cpu.py is absent"}
    [row] = build_rows({}, meta)
    assert (row.axis, row.result) == (meta["pass_cpu_unavailable"], "n/a")
    # axis without its reference: no ratio row can be built, and none is invented
    assert verdicts({"axis_status": fig("axis status", 1.0)}) == []


def test_dashboard_figures_are_shown_with_their_sizes_for_information() -> None:
    page = fig("dashboard page (200 hosts)", 70.0, 65.0, 90.0, unit="ms")
    page.extra.update(bytes=331000, gzip_bytes=11600)
    [row] = build_rows({"dashboard_page": page}, {})
    assert (row.figure, row.axis, row.peer) == ("dashboard page (200 hosts)", "70.00 ms [65.00-90.00]",
                                                "331000 B, gzip 11600 B")
    assert (row.target, row.result) == ("(for information)", "")
