"""Real OpenSSH test hosts for integration tests, started on this machine by the test suite.

Each host is a namespaced, systemd-booted Debian (same suite as the machine) on an overlay of
one cached base root filesystem, with its own disk, hostname, host keys and IP on a private
bridge, so that tests can let the product change /etc, services or swap for real without
touching the machine. Needs root; see README.md next to this file.

    from tests.sshhosts import Fleet
    with Fleet.start(n=3) as fleet:
        subprocess.run(["ssh", "-F", fleet.ssh_config, fleet.hosts[0].name, "hostname"])
"""

from .fleet import Fleet
from .host import TestHost
from .system import HarnessUnavailable

__all__ = ["Fleet", "HarnessUnavailable", "TestHost"]
