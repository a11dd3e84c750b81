"""The real `axis controller` process survives an unexpected exception in its spec watcher
(issue 16, item 4), on real hosts.

The loader is made to raise (RecursionError, as it once did on 3,000 nested brackets) by a
patched `load_specs` in the controller process whenever a watched file holds a marker: the
loader itself now answers such input with a spec error, and the supervision must hold for any
exception, not one input. Checked: the log line with the type, the Warning event and the
condition, the process still up, the next good edit reaching the hosts, and honest exit
statuses on SIGTERM (0 when healthy, 1 when a part was failing then).
"""

from __future__ import annotations

import signal
import sys
import textwrap
import time

import pytest

from tests.integration.controlkit import controller_workdir, panic_conf, query, wait_for
from tests.integration.fleetspecs import host_specs

pytestmark = pytest.mark.hosts

MARKER = "# axis-test: raise"
AXIS_WITH_FAULTY_LOADER = [sys.executable, "-c", textwrap.dedent(f"""
    from pathlib import Path
    import axis.reconcile.controller as controller
    real = controller.load_specs
    def load_specs(paths):
        if any({MARKER!r} in p.read_text() for root in paths for p in Path(root).glob("*.yaml")):
            raise RecursionError("maximum recursion depth exceeded (injected)")
        return real(paths)
    controller.load_specs = load_specs
    from axis.main import main
    main()
""")]


@pytest.fixture
def work(fleet, tmp_path):
    with controller_workdir(fleet, tmp_path) as work:
        yield work


def test_controller_survives_a_loader_that_raises_and_applies_the_next_good_edit(fleet, work):
    specs_dir, state, log = work.specs, work.state, work.log
    (specs_dir / "hosts.yaml").write_text(host_specs(fleet, features="{panicRecovery: {panicSeconds: 5}}"))
    proc = work.start(resync="30s", axis=AXIS_WITH_FAULTY_LOADER)
    wait_for(lambda: all("kernel.panic = 5" in panic_conf(h) for h in fleet.hosts), 60, "first convergence")

    (specs_dir / "bad.yaml").write_text(f"{MARKER}\n")
    wait_for(lambda: "SpecApply: internal error: RecursionError" in log.read_text(), 20, "the failure's log line")
    assert proc.poll() is None, log.read_text()
    assert query(state, "SELECT type, message FROM events WHERE kind='Controller' AND reason='InternalError'")[0] == \
        ("Warning", "SpecApply: internal error: RecursionError: maximum recursion depth exceeded (injected); "
                    "failed 1 time(s) in a row, retry in 1s")
    status, reason = query(state, "SELECT status, reason FROM conditions WHERE kind='Controller' "
                                   "AND type='SpecApply'")[0]
    assert status == "False" and reason in ("Restarting", "CrashLoopBackOff")

    (specs_dir / "bad.yaml").unlink()
    (specs_dir / "hosts.yaml").write_text(host_specs(fleet, features="{panicRecovery: {panicSeconds: 6}}"))
    edited = time.monotonic()
    wait_for(lambda: all("kernel.panic = 6" in panic_conf(h) for h in fleet.hosts), 30,
             "the good edit to reach the hosts")
    print(f"\nafter the failure, good edit to converged: {time.monotonic() - edited:.1f}s", file=sys.__stderr__)
    assert query(state, "SELECT status, reason FROM conditions WHERE kind='Controller' AND type='SpecApply'") == \
        [("True", "Running")]
    assert "SpecApply: running again after" in log.read_text()

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0, log.read_text()

    # Started with the bad file there: it runs on the stored state, says what fails, exits 1.
    (specs_dir / "bad.yaml").write_text(f"{MARKER}\n")
    log.write_text("")
    again = work.start(resync="30s", axis=AXIS_WITH_FAULTY_LOADER)
    wait_for(lambda: "controller watching" in log.read_text() and "RecursionError" in log.read_text(), 30,
          "the second controller to start and report the failure")
    time.sleep(1)
    assert again.poll() is None, log.read_text()
    again.send_signal(signal.SIGTERM)
    assert again.wait(timeout=30) == 1, log.read_text()
    assert "exit status 1: failing when stopped: SpecApply: RecursionError" in log.read_text()
    assert query(state, "SELECT status, reason FROM conditions WHERE kind='Controller' AND type='Ready'") == \
        [("False", "Stopped")]
