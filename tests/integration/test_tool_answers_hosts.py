"""A package database the login user cannot read is no "not installed" (issue 16 T1 follow-up 4).

On a real sshd test host, axis's earlyoom marker is in place (axis installed the package) and
dpkg's status file is made root-only, so `dpkg-query` run by the login user (ops) fails. The
probe used to read that failure as "not installed", and `earlyoom: false` then planned only the
marker's removal: the package axis installed would have been left unmanaged for good. Now the
feature fails with dpkg-query's own words, nothing is planned or run, and the marker stays.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from axis.drivers.features.earlyoom import MARKER
from axis.drivers.features.packages import marker_text
from tests.integration.fleetspecs import fleet_axis, host_specs, host_views

pytestmark = pytest.mark.hosts

STATUS = "/var/lib/dpkg/status"


@pytest.fixture
def unreadable_dpkg(fleet) -> Iterator:
    """The first host with axis's earlyoom marker and a root-only dpkg status file; both undone."""
    host = fleet.hosts[0]
    mode = host.exec(f"stat -c %a {STATUS}").stdout.strip()
    host.exec(f"mkdir -p /var/lib/axis && chmod 600 {STATUS}")
    host.root_path(MARKER).write_text(marker_text("earlyoom"))
    yield host
    host.heal()
    host.exec(f"chmod {mode} {STATUS} && rm -f {MARKER}")


def test_false_with_an_unreadable_package_database_plans_nothing_and_keeps_the_marker(fleet, axis, specs,
                                                                                       unreadable_dpkg):
    host = unreadable_dpkg
    assert host.exec("su ops -s /bin/sh -c 'dpkg-query -W dpkg'", check=False).returncode == 2  # the fault is real
    run = fleet_axis(fleet, axis)
    spec = specs({"hosts.yaml": host_specs(fleet, user="ops", sudo=True, features="{earlyoom: false}",
                                           hosts=[host])})
    diff = run("diff", "-f", str(spec))
    assert diff.code == 1, diff.out + diff.err
    assert "earlyoom: FAILED, nothing planned: cannot read the state of package earlyoom: dpkg-query: " in diff.out
    assert "failed to open package info file" in diff.out and "Permission denied" in diff.out
    assert f"remove {MARKER}" not in diff.out

    applied = run("apply", "-f", str(spec), "-o", "json")
    assert applied.code == 1, applied.out + applied.err
    view = host_views(applied)[host.name]
    [feature] = view["features"]
    assert feature["state"] == "failed" and feature["steps"] == [] and "dpkg-query" in feature["message"]
    assert host.root_path(MARKER).read_text() == marker_text("earlyoom")  # still axis's to remove later
