"""A real package install: earlyoom through the host's own apt-get, enabled with systemd.

The test hosts have no route out, so apt in the host is pointed at a small proxy on the
fleet's bridge that forwards only to the mirrors this machine's own apt sources name.
"""

from __future__ import annotations

import json

import pytest

from tests.ci import require_systemd
from tests.integration.fleetspecs import fleet_axis, host_specs
from tests.sshhosts.aptproxy import AptProxy, mirror_hosts
from tests.sshhosts.network import gateway

pytestmark = pytest.mark.hosts

PROXY_CONF = "/etc/apt/apt.conf.d/99axis-test-proxy"


@pytest.fixture
def apt_host(fleet):
    host = fleet.hosts[0]
    require_systemd([host], "earlyoom is enabled with systemctl")
    proxy = AptProxy(gateway(fleet.net), mirror_hosts()).start()  # on a free port
    host.exec(f"echo 'Acquire::http::Proxy \"http://{gateway(fleet.net)}:{proxy.port}\";' > {PROXY_CONF}")
    try:
        yield host
    finally:
        host.exec("systemctl disable --now earlyoom >/dev/null 2>&1; "
                  "DEBIAN_FRONTEND=noninteractive apt-get purge -y earlyoom >/dev/null 2>&1; "
                  f"rm -f {PROXY_CONF} /var/lib/axis/earlyoom.*; true")
        proxy.stop()


def _installed(host) -> str:
    return host.exec("dpkg-query -W -f='${Status}' earlyoom 2>/dev/null || true").stdout


def test_earlyoom_installed_through_apt_enabled_then_removed(fleet, axis, specs, apt_host):
    run = fleet_axis(fleet, axis)
    on = specs({"hosts.yaml": host_specs(fleet, hosts=[apt_host], features="{earlyoom: {}}")})
    assert _installed(apt_host) != "install ok installed"
    diff = run("diff", "-f", str(on))
    assert diff.code == 2 and "earlyoom" in diff.out and "install" in diff.out

    first = run("apply", "-f", str(on), "-o", "json")
    assert first.code == 0, first.out + first.err
    feature = json.loads(first.out)["hosts"][0]["features"][0]
    assert feature["state"] == "applied", feature
    assert _installed(apt_host) == "install ok installed"
    assert apt_host.exec("systemctl is-enabled earlyoom").stdout.strip() == "enabled"
    assert apt_host.exec("systemctl is-active earlyoom", check=False).stdout.strip() == "active"

    second = run("apply", "-f", str(on), "-o", "json")
    assert second.code == 0 and json.loads(second.out)["hosts"][0]["status"] == "unchanged"
    assert run("diff", "-f", str(on)).code == 0

    off = specs({"hosts.yaml": host_specs(fleet, hosts=[apt_host], features="{earlyoom: false}")})
    assert run("apply", "-f", str(off)).code == 0
    assert _installed(apt_host) != "install ok installed"  # axis installed it, so axis removes it
    assert run("diff", "-f", str(off)).code == 0
