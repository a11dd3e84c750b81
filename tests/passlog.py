"""Passes of several controllers over the same hosts, and the check that no two controllers were
in a pass over one host at once: shared by the failover test on real hosts
(tests/integration/test_failover_hosts.py) and the many-controller simulation (bench/controllers.py)."""

from __future__ import annotations

import math
import subprocess
from collections.abc import Hashable, Iterable


def overlaps(passes: Iterable[tuple[str, Hashable, float, float]]) -> list[str]:
    """Each pass (host, controller, began, ended) that began while another controller's pass over
    the same host had not ended: one line per such pass."""
    by_host: dict[str, list[tuple[float, float, Hashable]]] = {}
    for host, controller, began, ended in passes:
        by_host.setdefault(host, []).append((began, ended, controller))
    found = []
    for host, spans in by_host.items():
        spans.sort(key=lambda span: (span[0], span[1]))
        until: float = -math.inf
        by: Hashable = None
        for began, ended, controller in spans:
            if began < until and controller != by:
                found.append(f"{host}: controller {controller} began at {began:.3f} while controller {by} ran until "
                             f"{until:.3f}")
            if ended > until:
                until, by = ended, controller
    return found


def stop_all(procs: Iterable[subprocess.Popen[bytes]], timeout: float) -> None:
    """SIGTERM every controller still running, then wait for each; one that outlives `timeout`
    seconds is killed."""
    procs = list(procs)
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
