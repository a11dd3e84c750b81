"""An `axis controller` on the bench's state DB and specs, for the warm figures: while it runs,
`axis status` and `axis apply` go through it (its kept connections), as a user's commands do
beside a running controller. Started and stopped around the warm figures only, and stopped on
errors and Ctrl-C too (a context manager), so that no cold figure ever runs beside it."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType

from bench.timing import BenchError, process_cpu

#: Longer than any bench run: the controller's own resync passes must not run during a timed
#: command (they would compete for the same 2 cores); the commands' passes are what is timed.
RESYNC = "6h"
READY_TIMEOUT, STOP_TIMEOUT = 60.0, 30.0


class WarmController:
    """`axis controller --watch SPECS` as a process group of its own, its log in `log`."""

    def __init__(self, command: list[str], state: Path, log: Path):
        self.command = [*command, "--resync", RESYNC, "--log-format", "json"]
        self.state = state
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.exit_status: int | None = None

    def __enter__(self) -> WarmController:
        with self.log.open("ab") as out:
            # A session of its own: a Ctrl-C at the terminal reaches the bench, which stops it in order.
            self.proc = subprocess.Popen(self.command, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    @property
    def socket(self) -> Path:
        """Where the controller serves the CLI (issue 21's local socket), beside the state DB."""
        from axis.state.location import Location

        return Location.of(self.state).side_file("controller.sock")

    def cpu_seconds(self) -> float:
        """The controller's CPU seconds so far (0 once it has stopped)."""
        if self.proc is None or self.proc.poll() is not None:
            return 0.0
        try:
            return process_cpu(self.proc.pid)
        except (OSError, ValueError):  # it exited between the poll and the read
            return 0.0

    def _wait_ready(self) -> None:
        """Until the controller holds the state's controller lock: from then on a CLI command
        sees it (an `axis apply` hands it the hosts)."""
        from axis.state.lock import controller_pid

        assert self.proc is not None
        deadline = time.monotonic() + READY_TIMEOUT
        while controller_pid(self.state) != str(self.proc.pid):
            if self.proc.poll() is not None:
                raise BenchError(f"axis controller exited {self.proc.returncode} at start:\n{self._log_tail()}")
            if time.monotonic() > deadline:
                raise BenchError(f"axis controller not running after {READY_TIMEOUT:g} s:\n{self._log_tail()}")
            time.sleep(0.2)

    def stop(self) -> None:
        """SIGTERM (a clean stop: steps in flight finish, connections close), then SIGKILL to the
        whole group if it is still there after STOP_TIMEOUT seconds. Idempotent."""
        if self.proc is None or self.exit_status is not None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.exit_status = self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.exit_status = self.proc.wait()
        if self.exit_status != 0:
            print(f"  warning: axis controller exited {self.exit_status} when stopped:\n{self._log_tail()}", flush=True)

    def _log_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-2000:]
        except OSError:
            return "(no log)"
