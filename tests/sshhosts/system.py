"""Small wrappers around the machine tools the harness drives (mount, ip, losetup, cgroupfs).

Everything here runs on the real machine as root. Kept apart from the host logic so that each
teardown step can be called on leftovers of a crashed run without a live `TestHost` object.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

REQUIRED_TOOLS = (
    "debootstrap", "unshare", "nsenter", "ip", "mount", "umount", "losetup",
    "mkfs.ext4", "ssh-keygen", "chroot",
)


class HarnessUnavailable(RuntimeError):
    """The machine cannot run test hosts (not root, a tool missing, namespaces refused...).

    `reason` is a one-line human explanation; pytest skips (or fails under CI) with it.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def run(cmd: list[str], check: bool = True, input: str | None = None,
        timeout: float | None = 120) -> subprocess.CompletedProcess[str]:
    """Run a command with captured text output; on failure the error message carries stderr."""
    proc = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, cmd, proc.stdout,
                                            f"{' '.join(cmd)}: {proc.stderr.strip()}")
    return proc


def require_machine() -> None:
    """Raise HarnessUnavailable unless we are root with every tool the harness calls."""
    if os.geteuid() != 0:
        raise HarnessUnavailable("test hosts need root (namespaces, mounts, bridge)")
    missing = [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None]
    if missing:
        raise HarnessUnavailable(f"missing tools: {', '.join(missing)} "
                                 "(apt-get install debootstrap iproute2 util-linux mount "
                                 "e2fsprogs openssh-client)")
    cgroup2_root()
    probe = run(["unshare", "--uts", "--mount", "--pid", "--ipc", "--cgroup", "--fork",
                 "mount", "-t", "tmpfs", "axis-probe", "/mnt"], check=False)
    if probe.returncode != 0:
        raise HarnessUnavailable(f"namespaces or mounts refused: {probe.stderr.strip()}")


def cgroup2_root() -> Path:
    """Where the cgroup v2 hierarchy is mounted (/sys/fs/cgroup, or /sys/fs/cgroup/unified on
    hybrid machines). PID 1 of each host needs its own v2 subtree for systemd and freeze/kill."""
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        if right.split()[0] == "cgroup2":
            return Path(_unescape(left.split()[4]))
    raise HarnessUnavailable("no cgroup v2 hierarchy mounted (needed for systemd in hosts)")


def mounts() -> list[tuple[str, str, str]]:
    """(source, mount point, fstype) of every mount in our namespace, in mount order."""
    result = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        fstype, source = right.split()[:2]
        result.append((_unescape(source), _unescape(left.split()[4]), fstype))
    return result


def unmount_under(path: Path) -> None:
    """Lazily unmount every mount at or below `path`, deepest first (never anything else)."""
    prefix = str(path.resolve())
    targets = [mnt for _, mnt, _ in mounts() if mnt == prefix or mnt.startswith(prefix + "/")]
    for mnt in sorted(set(targets), key=len, reverse=True):
        run(["umount", "-l", mnt], check=False)


def remove_tree(path: Path) -> None:
    """rm -rf that first unmounts anything below and never crosses into another filesystem."""
    if path.exists():
        unmount_under(path)
        run(["rm", "-rf", "--one-file-system", str(path)])


def kill_cgroup(cgroup: Path) -> None:
    """Kill every process in `cgroup` (cgroup.kill, or SIGKILL per pid on old kernels) and
    remove the cgroup directories bottom-up once they are empty."""
    if not cgroup.is_dir():
        return
    kill_file = cgroup / "cgroup.kill"
    if kill_file.exists():
        _write_quiet(kill_file, "1")
    else:
        for procs in cgroup.rglob("cgroup.procs"):
            for pid in procs.read_text().split():
                _kill_quiet(int(pid))
    _wait_until_empty(cgroup)
    for sub in sorted((p for p in cgroup.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        _rmdir_quiet(sub)
    _rmdir_quiet(cgroup)


def _wait_until_empty(cgroup: Path, tries: int = 200) -> None:
    events = cgroup / "cgroup.events"
    for _ in range(tries):
        if not events.exists() or "populated 0" in events.read_text():
            return
        time.sleep(0.01)


def _write_quiet(path: Path, text: str) -> None:
    try:
        path.write_text(text)
    except OSError:
        pass


def _kill_quiet(pid: int) -> None:
    try:
        os.kill(pid, 9)
    except OSError:
        pass


def _rmdir_quiet(path: Path) -> None:
    try:
        path.rmdir()
    except OSError:
        pass


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal."""
    return field.encode().decode("unicode_escape") if "\\" in field else field
