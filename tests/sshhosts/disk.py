"""A host's own disk and root filesystem: a sparse ext4 loop file under an overlay of the base.

The upper layer lives on the host's disk, so writes to /etc, /var or /swapfile in a host land
in that file (never in the machine or the shared base), `df /` in the host reports the disk's
own size, and filling it gives the host ENOSPC without filling the machine.
"""

from __future__ import annotations

import threading
from pathlib import Path

from .system import mounts, run

DISK_SIZE = "2G"
# `losetup --find` picks a free device and then claims it: two callers at once can pick the
# same one, so the claim is serialised within this process.
_LOSETUP = threading.Lock()


def overlay_source(host: str) -> str:
    """Mount source shown for the host's `/`: device-like, so df & co treat it as a disk."""
    return f"/dev/{host}"


def create(hostdir: Path, host: str, base: Path) -> str:
    """Make, attach and mount the disk, then mount the merged root at hostdir/root.
    Returns the loop device (recorded so that stopping can detach it)."""
    image = hostdir / f"{host}.disk"
    run(["truncate", "-s", DISK_SIZE, str(image)])
    run(["mkfs.ext4", "-q", "-F", "-L", host[:16],
         "-E", "nodiscard,lazy_itable_init=1,lazy_journal_init=1", str(image)])
    with _LOSETUP:
        loop = run(["losetup", "--find", "--show", str(image)]).stdout.strip()
    disk = hostdir / "disk"
    merged = hostdir / "root"
    disk.mkdir(exist_ok=True)
    merged.mkdir(exist_ok=True)
    # noinit_itable: no background inode-table zeroing (20 hosts would write ~0.6 GiB for it).
    run(["mount", "-t", "ext4", "-o", "noinit_itable", loop, str(disk)])
    (disk / "upper").mkdir(exist_ok=True)
    (disk / "work").mkdir(exist_ok=True)
    options = f"lowerdir={base},upperdir={disk / 'upper'},workdir={disk / 'work'}"
    run(["mount", "-t", "overlay", "-o", options, overlay_source(host), str(merged)])
    return loop


def destroy(hostdir: Path, host: str, loop: str | None) -> None:
    """Unmount root and disk and detach the loop device; safe on partial or repeated calls.

    Also finds leftovers by name (overlay source, image file name) when a crashed run left
    them in another work dir."""
    loops = {loop} if loop else set()
    listing = run(["losetup", "--list", "--noheadings", "--output", "NAME,BACK-FILE"], check=False)
    for line in listing.stdout.splitlines():
        name, _, backing = line.strip().partition(" ")
        if backing.strip().removesuffix(" (deleted)").endswith(f"/{host}.disk"):
            loops.add(name)
    disk = str((hostdir / "disk").resolve())
    for source, target, fstype in reversed(mounts()):
        if (fstype == "overlay" and source == overlay_source(host)) or target == disk:
            run(["umount", "-l", target], check=False)
    for source, target, _ in reversed(mounts()):
        if source in loops:
            run(["umount", "-l", target], check=False)
    for device in loops:
        run(["losetup", "--detach", device], check=False)
