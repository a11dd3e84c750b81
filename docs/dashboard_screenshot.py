"""Makes docs/dashboard.png, the README's dashboard screenshot, from a real run: the demo fleet
(3 test hosts in /tmp/axis-shot), examples/demo/specs applied, `axis serve --watch`, axis-c3's
link cut, the fleet page taken once axis-c3 reads red.

    python3 docs/dashboard_screenshot.py     # from the repository root, as root, the venv on
"""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, ".")
from tests.browserkit import chromium, desktop, screenshot, start_dashboard, wait
from tests.sshhosts import network


def main() -> None:
    """Fleet up, specs applied, served and watched, axis-c3 cut, screenshot, fleet down."""
    d = Path("/tmp/axis-shot")
    if d.exists():
        subprocess.run([sys.executable, "-m", "tests.sshhosts", "down", "--dir", str(d)], check=False)
        shutil.rmtree(d, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "tests.sshhosts", "up", "-n", "3", "--dir", str(d)], check=True)
    try:
        ax = ["--ssh-config", str(d / "ssh_config")]
        subprocess.run([sys.executable, "-m", "axis", "--state", str(d / "state.db"), *ax, "apply", "-f", "examples/demo/specs"])
        board = start_dashboard(d / "state.db", d / "logs", axis_args=ax, serve_args=["--watch", "examples/demo/specs", "--resync", "2s"])
        try:
            with chromium() as b:
                desktop(b)
                b.get(board.login)
                time.sleep(6)
                network.set_link("axis-c3", up=False)
                wait(b, "document.querySelector('tr.host[data-host=\"axis-c3\"] td.cond[data-cond=Reachable]').dataset.status === 'False'", timeout=90)
                time.sleep(1)
                os.environ["AXIS_SCREENSHOTS"] = "docs"
                print("saved", screenshot(b, "dashboard"))
        finally:
            board.stop()
    finally:
        subprocess.run([sys.executable, "-m", "tests.sshhosts", "down", "--dir", str(d)], check=False)


if __name__ == "__main__":
    main()
