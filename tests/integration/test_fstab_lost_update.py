"""A hand edit of /etc/fstab between the probe and the write is never lost (issue 16 T1 follow-up 3).

axis reads /etc/fstab with the probe and rewrites it whole after the swap file's dd, which takes
minutes on a real disk. Before, the write was a blind `mv`: an admin's line added meanwhile was
gone. Now every write carries the SHA-256 of what the probe read and the host compares right
before the rename. On a real sshd test host (ops with passwordless sudo): plan, then edit
/etc/fstab as root, then run the (now stale) plan's steps: the fstab step fails with the clear
message, the hand edit survives byte for byte, and the next `axis apply` adds axis's line to it.
"""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import Iterator

import pytest

from axis.drivers.connector import SshOptions
from axis.drivers.features.execute import run_steps
from axis.drivers.features.swapfile import FSTAB_MARK
from axis.reconcile.converge import observe_features
from axis.reconcile.plan import plan_host
from axis.specs.effective import EffectiveFeature
from axis.specs.features import SwapfileSettings
from axis.specs.loader import load_specs
from tests.integration.fleetspecs import fleet_axis, host_specs, host_views
from tests.integration.hostreset import fstab_replaced

pytestmark = pytest.mark.hosts

SWAP = "{swapfile: {size: 64M, swappiness: 20}}"
ORIGINAL = b"# /etc/fstab of the test host\nUUID=1234 /data ext4 defaults,nofail 0 2\n"
HAND_EDIT = b"/dev/sdz1 /srv/added-by-hand xfs defaults,nofail 0 0\n"
CHANGED = "/etc/fstab changed since it was read; not overwritten; the next pass re-reads it"


@pytest.fixture
def fstab_host(fleet) -> Iterator:
    """The first host with a known /etc/fstab and no axis file; put back as it was afterwards."""
    host = fleet.hosts[0]
    with fstab_replaced(host, ORIGINAL):
        yield host


async def _plan_then_run(fleet, spec_path, host, edit: bytes) -> tuple:
    """Probe and plan on the host, append `edit` to its fstab (as root, like an admin), then run
    the plan made before the edit."""
    [loaded] = [item for item in load_specs([spec_path]) if item.obj.kind == "Host"]
    features = {"swapfile": EffectiveFeature("swapfile", SwapfileSettings.model_validate(
        {"size": "64M", "swappiness": 20}), "Host")}
    transport = await SshOptions(ssh_config=fleet.ssh_config).connect(loaded.obj)
    try:
        facts, sections = await observe_features(transport, features, [], timeout=60.0)
        [plan] = plan_host(features, sections, facts)
        host.exec(f"printf %s {shlex.quote(edit.decode())} >> /etc/fstab")
        results = await run_steps(transport, plan.steps)
    finally:
        await transport.close()
    return plan, results


def test_a_hand_edit_between_probe_and_write_survives(fleet, axis, specs, fstab_host):
    host = fstab_host
    spec = specs({"hosts.yaml": host_specs(fleet, user="ops", sudo=True, features=SWAP, hosts=[host])})
    plan, results = asyncio.run(_plan_then_run(fleet, spec, host, HAND_EDIT))

    fstab_steps = [s for s in plan.steps if s.target == "/etc/fstab"]
    assert [s.summary for s in fstab_steps] == ["update /etc/fstab (swap line for /swapfile)"]
    by_step = {r.step.summary: r for r in results}
    fstab = by_step["update /etc/fstab (swap line for /swapfile)"]
    assert fstab.status == "failed" and CHANGED in fstab.message, fstab
    assert by_step[next(s.summary for s in plan.steps if s.summary.startswith("create swap file"))].status == "done"
    assert results[-1] is fstab  # a failed file step stops the feature: swapon did not run
    assert host.root_path("/etc/fstab").read_bytes() == ORIGINAL + HAND_EDIT
    assert host.exec("ls -a /etc | grep -c '^.axis-tmp' || true").stdout.strip() == "0"

    # the next pass re-reads the file: axis's line goes under the admin's, which stays
    applied = fleet_axis(fleet, axis)("apply", "-f", str(spec), "-o", "json")
    view = host_views(applied)[host.name]
    assert view["features"][0]["state"] in ("applied", "refused"), applied.out  # the overlay refuses swapon
    assert host.root_path("/etc/fstab").read_bytes() == (
        ORIGINAL + HAND_EDIT + f"{FSTAB_MARK}\n/swapfile none swap sw 0 0\n".encode())


def test_without_an_edit_in_between_the_same_steps_write_axis_line(fleet, axis, specs, fstab_host):
    """The baseline: no edit in between, the same steps write axis's line."""
    host = fstab_host
    spec = specs({"hosts.yaml": host_specs(fleet, user="ops", sudo=True, features=SWAP, hosts=[host])})
    plan, results = asyncio.run(_plan_then_run(fleet, spec, host, b""))
    fstab = next(r for r in results if r.step.target == "/etc/fstab")
    assert fstab.status == "done", fstab
    assert host.root_path("/etc/fstab").read_bytes() == ORIGINAL + f"{FSTAB_MARK}\n/swapfile none swap sw 0 0\n".encode()
