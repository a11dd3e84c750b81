"""The dashboard of `axis serve` at N hosts: how long the fleet page and its live fragment take,
and how large they are.

    python bench/dashboard.py [--hosts 200] [--history 20] [--runs 9] [--state STATE.db]

Fills a SQLite state DB through the product's own store path (tests/dashboardkit.py: Host
objects applied, `--history` stored passes per host whose facts are parsed from the captured
facts fixtures and renamed per host, conditions, feature states, claims placed, a git source),
starts `axis serve` on it as a user does, signs in with the login link it prints, and times over
loopback HTTP, each the median (min, max) of `--runs` after one untimed warm-up:

    page       GET /                the fleet page
    fragment   GET /ui/fleet        what the page polls every 2 s (200: the fleet changed)
    unchanged  GET /ui/fleet        with If-None-Match: the 304 of a quiet fleet (still read and rendered)
    host       GET /host/NAME       a host's page with its three plots

with their payload bytes as sent plain and gzipped (the server gzips what the browser accepts).
Then, in this process, the fleet page's two halves: the state DB read (`fleet_overview`) and the
templates' render. Prints one JSON object on its last line (bench/run.py's `dashboard` group reads it).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.browserkit import start_dashboard  # noqa: E402


def fill(state: Path, hosts: int, history: int) -> list[str]:
    """The bench's fleet in `state`: every 25th host down, every 10th refusing a feature."""
    from axis.state import Database
    from tests.dashboardkit import fill_fleet

    names = [f"node-{i:03d}" for i in range(1, hosts + 1)]
    db = Database(state)
    try:
        fill_fleet(db, names, now=time.time(), history=history, down=names[::25], refusing=names[::10],
                   hostile=names[:1])
    finally:
        db.close()
    return names


def timed(fn: Callable[[], Any], runs: int) -> tuple[dict[str, Any], Any]:
    """Milliseconds of `fn` over `runs` calls after one untimed warm-up: median, min, max, samples."""
    result = fn()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - started) * 1000)
    return {"median_ms": round(statistics.median(samples), 2), "min_ms": round(min(samples), 2),
            "max_ms": round(max(samples), 2), "samples_ms": [round(s, 2) for s in samples]}, result


def over_http(link: str, names: list[str], runs: int) -> dict[str, Any]:
    import httpx

    base = link.split("/login/")[0]
    out: dict[str, Any] = {}
    with httpx.Client(base_url=base, follow_redirects=True, timeout=60) as web:
        if web.get(link).status_code != 200:
            raise SystemExit("the login link did not sign in")
        plain = {"Accept-Encoding": "identity"}
        etag = web.get("/ui/fleet", headers=plain).headers["etag"]
        for key, path, headers in (("page", "/", plain), ("fragment", "/ui/fleet", plain),
                                   ("unchanged", "/ui/fleet", {**plain, "If-None-Match": etag}),
                                   ("host", f"/host/{names[1]}", plain)):
            def get(path: str = path, headers: dict[str, str] = headers) -> httpx.Response:
                return web.get(path, headers=headers)
            figure, response = timed(get, runs)
            zipped = web.get(path, headers={**headers, "Accept-Encoding": "gzip"})
            figure.update(status=response.status_code, bytes=len(response.content),
                          gzip_bytes=int(zipped.headers.get("content-length", len(zipped.content))))
            out[key] = figure
    return out


def in_process(state: Path, runs: int) -> dict[str, Any]:
    """The fleet page's time split: the DB read and the render (as the server does both)."""
    from axis.api.dashboard.render import HOST_CONDITIONS, render
    from axis.app.fleet_overview import fleet_overview
    from axis.state import Database

    db = Database(state)
    read, fleet = timed(lambda: fleet_overview(db), runs)
    context = {"fleet": fleet, "state": str(state), "conditions": HOST_CONDITIONS, "fragment": "/ui/fleet",
               "etag": "", "signed_in": True}
    drawn, _ = timed(lambda: render("fleet_sections.html", **context), runs)  # the page is these and a frame
    db.close()
    return {"read": read, "render": drawn}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--history", type=int, default=20, help="stored passes per host (the state keeps 20)")
    parser.add_argument("--runs", type=int, default=9, help="timed runs per figure (default 9)")
    parser.add_argument("--state", type=Path, help="state DB to fill (default: in a temp directory; must not exist)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="axis-bench-dashboard-"))
    state = args.state or work / "state.db"
    started = time.perf_counter()
    names = fill(state, args.hosts, args.history)
    filled = time.perf_counter() - started
    board = start_dashboard(state, work / "logs")  # as the browser tests start it (tests/browserkit)
    try:
        http = over_http(board.login, names, args.runs)
    finally:
        board.stop()
    split = in_process(state, args.runs)
    result = {"hosts": args.hosts, "history": args.history, "runs": args.runs, "fill_seconds": round(filled, 1),
              "state_db_bytes": state.stat().st_size, "http": http, "fleet_page_split": split,
              "load1": os.getloadavg()[0], "cpus": os.cpu_count()}
    for key, fig in http.items():
        print(f"{key:10s} {fig['median_ms']:8.1f} ms [{fig['min_ms']:.1f}-{fig['max_ms']:.1f}]  HTTP {fig['status']}  "
              f"{fig['bytes']:>8} B, gzip {fig['gzip_bytes']:>7} B", flush=True)
    print(f"fleet page in process: read {split['read']['median_ms']:.1f} ms, render {split['render']['median_ms']:.1f} ms",
          flush=True)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
