"""Small wrappers around the machine tools the harness drives (mount, ip, losetup, cgroupfs).

Everything here runs on the real machine as root. Kept apart from the host logic so that each
teardown step can be called on leftovers of a crashed run without a live `TestHost` object.
"""

from __future__ import annotations

import fcntl
import os
import selectors
import shutil
import subprocess
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import IO

# Parent of every host's cgroup v2 subtree (a host's PID 1 lives in CGROUP_PARENT/<name>).
CGROUP_PARENT = "axis-testhosts"
LOCK_DIR = Path("/run/axis-testhosts")
_CLAIMED: set[Path] = set()  # lock files this process holds
INOTIFY_INSTANCES = 4096
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


class CommandFailed(subprocess.CalledProcessError):
    """CalledProcessError whose message includes the command's stderr."""

    def __str__(self) -> str:
        cmd = self.cmd if isinstance(self.cmd, str) else " ".join(self.cmd)
        return f"{cmd} (exit {self.returncode}): {(self.stderr or '').strip()}"


def run(cmd: list[str], check: bool = True, input: str | None = None,
        timeout: float | None = 120) -> subprocess.CompletedProcess[str]:
    """Run a command with captured text output; raise CommandFailed if check and it failed."""
    proc = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise CommandFailed(proc.returncode, cmd, proc.stdout, proc.stderr)
    return proc


def stream(cmd: list[str], on_line: Callable[[str], None], on_wait: Callable[[], None],
           timeout: float) -> tuple[int, list[str]]:
    """Run a command, its stdout and stderr merged, calling `on_line` with each output line as it
    comes and `on_wait` at least once a second (for a progress line while the command says
    nothing); return its exit status and its last 40 lines. Past `timeout` seconds it is killed
    and TimeoutExpired raised, as `run` does."""
    deadline = time.monotonic() + timeout
    tail: deque[str] = deque(maxlen=40)
    pending = b""
    with subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as proc, \
            selectors.DefaultSelector() as selector:
        assert proc.stdout is not None
        selector.register(proc.stdout, selectors.EVENT_READ)
        while True:
            if time.monotonic() > deadline:
                proc.kill()
                raise subprocess.TimeoutExpired(cmd, timeout)
            if selector.select(1.0):
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    break
                *lines, pending = (pending + chunk).split(b"\n")
                for raw in lines:
                    tail.append(raw.decode(errors="replace"))
                    on_line(tail[-1])
            on_wait()
        if pending:
            tail.append(pending.decode(errors="replace"))
            on_line(tail[-1])
        return proc.wait(max(0.0, deadline - time.monotonic())), list(tail)


def release(lock: IO[str]) -> None:
    """Give back a lock taken by claim()."""
    _CLAIMED.discard(Path(lock.name))
    lock.close()


def claim(name: str, timeout: float = 900) -> IO[str]:
    """Exclusive flock on /run/axis-testhosts/<name>.lock, waiting up to `timeout` seconds.

    Fleets hold one per host-name prefix and per network for their lifetime, so two test
    sessions at once wait for each other instead of one "cleaning up" the other's hosts; a
    crashed holder releases it automatically."""
    LOCK_DIR.mkdir(parents=True, exist_ok=True)
    path = LOCK_DIR / f"{name}.lock"
    if path in _CLAIMED:  # a second flock from this process would wait for itself
        raise RuntimeError(f"test hosts {name!r} are already in use in this process")
    lock = open(path, "w")
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            _CLAIMED.add(path)
            return lock
        except BlockingIOError:
            if time.monotonic() > deadline:
                lock.close()
                raise RuntimeError(f"test hosts {name!r} are still in use by another process") from None
            time.sleep(0.2)


def require_machine() -> None:
    """Raise HarnessUnavailable unless we are root with every tool the harness calls."""
    if os.geteuid() != 0:
        raise HarnessUnavailable("test hosts need root (namespaces, mounts, bridge)")
    missing = [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None]
    if missing:
        raise HarnessUnavailable(f"missing tools: {', '.join(missing)} "
                                 "(apt-get install debootstrap iproute2 util-linux mount "
                                 "e2fsprogs openssh-client)")
    try:
        (cgroup2_root() / CGROUP_PARENT).mkdir(exist_ok=True)
    except OSError as exc:
        raise HarnessUnavailable(f"cannot create a cgroup v2 subtree for the hosts: {exc}") from exc
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


def ensure_inotify_instances(wanted: int = INOTIFY_INSTANCES) -> None:
    """Raise fs.inotify.max_user_instances to `wanted` if it is lower (never lowers it).

    Hosts share the machine's root user, so every host's systemd, journald, logind and dbus
    count against root's one limit (Debian: 128, about 7 per host). Past it systemd either
    exits at start or hangs in "initializing" with "Failed to create inotify object: Too many
    open files", so a 20-host fleet beside another fleet would randomly lose systemd. This is
    the one kernel setting the harness changes; it is a limit, not a reservation, and is not
    persisted."""
    knob = Path("/proc/sys/fs/inotify/max_user_instances")
    if int(knob.read_text()) < wanted:
        knob.write_text(str(wanted))


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
