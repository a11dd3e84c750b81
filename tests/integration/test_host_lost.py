"""A host lost in the middle of an apply fails within 20 s; a slow but alive host does not
(issue 16, item 9).

Both are made on real hosts by a shim for `sysctl` (first in root's PATH) that sleeps, silently,
before loading axis's panic-recovery file: the apply's live step then hangs as a quiet
`apt-get install` would. On one host the network then vanishes (its veth goes down, as at a
power cut: no reset, no ICMP), on another the step just takes 40 s. 40 s is well past the
12 s of silence after which SSH keepalives give a host up, and short enough for CI.
"""

from __future__ import annotations

import sys
import threading
import time

import pytest

from axis.drivers.features.panic_recovery import PATH as PANIC_CONF
from axis.drivers.ssh import SILENCE_LIMIT
from tests.integration.fleetspecs import fleet_axis, host_specs, host_views
from tests.integration.hostreset import hosts_reset

pytestmark = pytest.mark.hosts

SHIM = "/usr/local/bin/sysctl"
#: the shim's pid, written when the slow step has begun (on the overlay: /run is the host's own tmpfs)
STARTED = "/var/tmp/axis-slow-step.pid"
SLOW_SECONDS = 40


def _shim(seconds: int) -> str:
    return (f"#!/bin/sh\ncase \"$*\" in *{PANIC_CONF}*) echo $$ > {STARTED}; sleep {seconds};; esac\n"
            "exec /usr/sbin/sysctl \"$@\"\n")


@pytest.fixture
def clean(fleet):
    with hosts_reset(fleet, f"if [ -s {STARTED} ]; then p=$(cat {STARTED}); pkill -P \"$p\"; kill \"$p\"; fi 2>/dev/null; "
                            f"rm -f {SHIM} {STARTED} {PANIC_CONF}; true"):
        yield


def test_host_lost_mid_apply_fails_within_20s_while_a_silent_slow_host_succeeds(fleet, axis, specs, clean):
    run = fleet_axis(fleet, axis)
    lost, slow, plain = fleet.hosts
    lost.exec(f"cat > {SHIM} && chmod 755 {SHIM}", input=_shim(120))
    slow.exec(f"cat > {SHIM} && chmod 755 {SHIM}", input=_shim(SLOW_SECONDS))
    spec = specs({"hosts.yaml": host_specs(fleet, features="{panicRecovery: {panicSeconds: 8}}")})
    seen: dict[str, float] = {}

    def cut_when_started() -> None:
        deadline = time.monotonic() + 60
        while not lost.root_path(STARTED).exists():
            if time.monotonic() > deadline:
                return
            time.sleep(0.05)
        seen["started"] = time.monotonic()  # no earlier than the host's pass began
        lost.link_down()
        seen["down"] = time.monotonic()

    cutter = threading.Thread(target=cut_when_started)
    cutter.start()
    began = time.monotonic()  # no later than the host's pass began
    result = run("apply", "-f", str(spec), "-o", "json")
    cutter.join()
    assert "down" in seen, "the slow step never started on the host to be cut off"
    hosts = host_views(result)
    # The pass ran `seconds`; it began between `began` and `started`, so it ended in this window:
    low = began + hosts[lost.name]["seconds"] - seen["down"]
    high = seen["started"] + hosts[lost.name]["seconds"] - seen["down"]
    print(f"host lost mid-apply: failed {low:.1f}-{high:.1f}s after its link went down "
          f"(keepalive silence limit {SILENCE_LIMIT:g}s): {hosts[lost.name]['reason']!r}; "
          f"silent {SLOW_SECONDS}s step: {hosts[slow.name]['status']} in {hosts[slow.name]['seconds']:.1f}s",
          file=sys.__stderr__)

    assert result.code == 1, result.out + result.err
    assert hosts[lost.name]["status"] == "failed"
    assert f"{lost.name}: unreachable: connection lost: no answer to keepalives" in hosts[lost.name]["reason"]
    assert high < 20, high  # keepalives give up after at most SILENCE_LIMIT (12 s) of silence
    # the host whose step printed nothing for 40 s was alive all along: it finished
    assert hosts[slow.name]["status"] == "changed", hosts[slow.name]
    assert hosts[slow.name]["seconds"] >= SLOW_SECONDS
    assert hosts[plain.name]["status"] == "changed", hosts[plain.name]
    assert "kernel.panic = 8" in slow.exec(f"cat {PANIC_CONF}").stdout
