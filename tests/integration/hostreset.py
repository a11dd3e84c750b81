"""Test hosts put back in shape around a test: faults healed and what the test wrote removed,
before it (a crashed earlier run may have left something) and after it. Shared by the
integration tests that write files on the hosts."""

from __future__ import annotations

import contextlib
import shlex
from collections.abc import Iterator
from typing import Any

from axis.drivers.features.swapfile import MARKER as SWAP_MARKER, SYSCTL as SWAP_SYSCTL

#: What the swapfile feature writes, besides its fstab line (the swap file while it is being
#: made, then in place; its marker; its sysctl.d file).
AXIS_FILES = ("/swapfile", "/swapfile.axis-new", SWAP_MARKER, SWAP_SYSCTL)


@contextlib.contextmanager
def hosts_reset(fleet: Any, command: str) -> Iterator[None]:
    """Every host of `fleet` healed, then `command` run on it (a shell line that removes what the
    test writes), before the block and again after it, whatever the block raised."""
    def reset() -> None:
        for host in fleet.hosts:
            host.heal()
            host.exec(command)
    reset()
    try:
        yield
    finally:
        reset()


def remove_swapfile_files(host: Any) -> None:
    """Remove AXIS_FILES and axis's state directory (/var/lib/axis) from `host`."""
    host.exec("rm -f " + " ".join(shlex.quote(p) for p in AXIS_FILES) + " && rm -rf /var/lib/axis")


@contextlib.contextmanager
def fstab_replaced(host: Any, content: bytes) -> Iterator[None]:
    """`host` with `content` as its /etc/fstab and no swapfile file of axis's for the block;
    afterwards healed, the files removed and its fstab put back as it was (bytes and mode)."""
    path = host.root_path("/etc/fstab")
    original, mode = path.read_bytes(), host.exec("stat -c %a /etc/fstab").stdout.strip()
    remove_swapfile_files(host)
    path.write_bytes(content)
    try:
        yield
    finally:
        host.heal()
        remove_swapfile_files(host)
        path.write_bytes(original)
        host.exec(f"chmod {mode} /etc/fstab")
