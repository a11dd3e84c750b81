"""The dashboard at N hosts in a real browser: how long headless chromium takes to show the fleet
page, and to apply one live update, with the state DB of bench/dashboard.py.

    python bench/dashboard_browser.py [--hosts 200] [--runs 9]

Needs Debian's `chromium` and `chromium-driver` and selenium (the test extra), as the browser
tests do. Fills a state DB like bench/dashboard.py, starts `axis serve` on it (tests/browserkit.py),
signs in with its one-time link, then, each the median (min, max) of `--runs` after a warm-up:

    load       a fresh load of `/`: navigation start to the load event (request, server, parse, layout)
    parsed     navigation start to the page's HTML parsed (DOMContentLoaded; headless chromium
               reports no paint timing)
    fetch      the page's own fetch of /ui/fleet, as its script makes it every 2 s when the fleet changed
    swap       that answer parsed and its sections swapped in as the page's script does, to the next layout

Prints one JSON object on its last line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.dashboard import fill  # noqa: E402
from tests.browserkit import chromium, desktop, start_dashboard  # noqa: E402

#: One live update as dashboard.js applies it (fetch, DOMParser, replaceWith per section), timed.
SWAP = """
const done = arguments[arguments.length - 1];
const t0 = performance.now();
fetch(document.body.getAttribute("data-fragment"), {credentials: "same-origin", cache: "no-store"})
  .then(r => r.text())
  .then(html => {
    const t1 = performance.now();
    const fresh = new DOMParser().parseFromString(html, "text/html").body.children;
    for (const section of Array.from(fresh)) {
      const old = section.id && document.getElementById(section.id);
      if (old) { old.replaceWith(document.importNode(section, true)); }
    }
    void document.body.offsetHeight;  // the layout the swap causes
    done([t1 - t0, performance.now() - t1, html.length]);
  })
  .catch(e => done(String(e)));
"""

NAVIGATION = """
const nav = performance.getEntriesByType("navigation")[0];
return [nav.loadEventEnd - nav.startTime, nav.domContentLoadedEventEnd - nav.startTime,
        document.querySelectorAll("tr.host").length];
"""


def summary(samples: list[float]) -> dict[str, Any]:
    return {"median_ms": round(statistics.median(samples), 1), "min_ms": round(min(samples), 1),
            "max_ms": round(max(samples), 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--runs", type=int, default=9, help="timed runs per figure (default 9)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="axis-bench-dashboard-browser-"))
    fill(work / "state.db", args.hosts, 20)
    board = start_dashboard(work / "state.db", work / "logs")
    loads: list[float] = []
    parses: list[float] = []
    fetches: list[float] = []
    swaps: list[float] = []
    try:
        with chromium() as browser:
            desktop(browser)
            browser.set_script_timeout(60)
            browser.get(board.login)
            for run in range(args.runs + 1):
                browser.get(board.url("/"))
                load, parsed, rows = browser.execute_script(NAVIGATION)
                answer = browser.execute_async_script(SWAP)
                if isinstance(answer, str) or rows != args.hosts:
                    raise SystemExit(f"the page showed {rows} of {args.hosts} hosts or its fetch failed: {answer}")
                if run:  # the first is a warm-up
                    loads.append(load)
                    parses.append(parsed)
                    fetches.append(answer[0])
                    swaps.append(answer[1])
            fragment_chars = answer[2]
    finally:
        board.stop()
    result = {"hosts": args.hosts, "runs": args.runs, "load": summary(loads), "parsed": summary(parses),
              "fetch": summary(fetches), "swap": summary(swaps), "fragment_chars": fragment_chars,
              "load1": os.getloadavg()[0], "cpus": os.cpu_count()}
    for key in ("load", "parsed", "fetch", "swap"):
        fig = result[key]
        print(f"{key:6s} {fig['median_ms']:8.1f} ms [{fig['min_ms']:.1f}-{fig['max_ms']:.1f}]", flush=True)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
