"""The real `axis controller` process on the test fleet, and what its tests wait for and read:
shared by test_controller, test_controller_supervised and test_crash_concurrency."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from axis.drivers.features.panic_recovery import PATH as PANIC_CONF
from tests.integration.hostreset import hosts_reset

#: The CLI as a child process, from this interpreter (no installed `axis` script needed).
AXIS = [sys.executable, "-c", "from axis.main import main; main()"]


def start_controller(fleet: Any, specs_dir: Path, state: Path, log: Path, *, resync: str = "3s",
                     axis: list[str] = AXIS) -> subprocess.Popen[bytes]:
    """`axis controller --watch specs_dir` on the fleet's ssh_config; stdout and stderr appended
    to `log` (a restarted controller's lines follow the first one's)."""
    with log.open("a") as out:
        return subprocess.Popen([*axis, "--state", str(state), "--ssh-config", str(fleet.ssh_config),
                                 "controller", "--watch", str(specs_dir), "--resync", resync],
                                stdout=out, stderr=subprocess.STDOUT)


@dataclass
class Workdir:
    """Where a test's controllers run: a specs directory to watch, a state DB, a log."""

    fleet: Any
    specs: Path
    state: Path
    log: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, *, resync: str = "3s", axis: list[str] = AXIS) -> subprocess.Popen[bytes]:
        """start_controller on this directory; killed when the workdir ends if still running."""
        self.procs.append(start_controller(self.fleet, self.specs, self.state, self.log, resync=resync, axis=axis))
        return self.procs[-1]


@contextlib.contextmanager
def controller_workdir(fleet: Any, tmp_path: Path) -> Iterator[Workdir]:
    """A Workdir under tmp_path; the hosts have no panicRecovery file before and after (the
    feature these tests converge), and no controller outlives the test."""
    (tmp_path / "specs").mkdir()
    work = Workdir(fleet, tmp_path / "specs", tmp_path / "state.db", tmp_path / "controller.log")
    with hosts_reset(fleet, f"rm -f {PANIC_CONF}"):  # healed too: a test may have frozen or stopped one
        try:
            yield work
        finally:
            for proc in work.procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()


def wait_for(predicate: Callable[[], object], timeout: float, what: str) -> None:
    """Poll until `predicate()` is true; after `timeout` seconds fail naming `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def panic_conf(host: Any) -> str:
    """The host's panicRecovery sysctl file, "" where there is none."""
    return host.exec(f"cat {PANIC_CONF} 2>/dev/null || true").stdout


def query(state: Path, sql: str, *args: object) -> list[tuple[Any, ...]]:
    """Rows of `sql` read straight from the state DB (waiting up to 30 s for a writer's lock)."""
    db = sqlite3.connect(state, timeout=30)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()
