"""One test host: its own disk, namespaces, init (systemd, or a shell running sshd) and sshd.

The host's PID 1 is started by `boot.sh` in fresh uts/mount/pid/ipc/cgroup namespaces inside
the host's netns. Verification commands (`exec`) and faults act from the real machine so that
they keep working while the host's sshd is broken, which is the point of injecting faults.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from . import disk, keys, network
from .system import CGROUP_PARENT, CommandFailed, cgroup2_root, kill_cgroup, remove_tree

BOOT_SCRIPT = Path(__file__).with_name("boot.sh")
# Capabilities no host process gets: they act on the whole kernel, not on the namespaces.
DROPPED_CAPS = ("-sys_module,-sys_rawio,-sys_time,-syslog,-mac_admin,-mac_override,"
                "-wake_alarm,-block_suspend,-mknod")
HOST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SYSTEMD_BOOT_TIMEOUT = 30.0
DIAGNOSE = ("systemctl is-system-running; systemctl list-jobs --no-pager; "
            "systemctl status ssh --no-pager; ip -br addr; ss -ltn; journalctl -b -n 40 --no-pager")
USERS = {"root": "/root", "ops": "/home/ops", "pw": "/home/pw"}


@dataclass
class TestHost:
    """A running test host. `name` is its hostname and ssh_config alias, `address` its IP on
    the fleet bridge, `init` is "systemd" or "sshd-only" (fallback when systemd cannot boot)."""

    __test__: ClassVar[bool] = False  # not a pytest test class despite the name

    name: str
    address: str
    hostdir: Path
    port: int = 22
    init: str = "systemd"
    pid1: int = 0  # the host's PID 1 as seen from the real machine
    loop: str | None = None
    _launcher: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)

    @property
    def cgroup(self) -> Path:
        return cgroup2_root() / CGROUP_PARENT / self.name

    def root_path(self, path: str) -> Path:
        """Where the host's `path` is seen from the real machine (the merged overlay)."""
        return self.hostdir / "root" / path.lstrip("/")

    def exec(self, cmd: str, check: bool = True, input: str | None = None,
             timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run `sh -c cmd` as root inside the host (its namespaces, root and capabilities).

        The command stays outside the host's cgroup, so it also works on a frozen host."""
        if not self._pid1_alive():
            raise RuntimeError(f"{self.name} is down (PID 1 exited); see {self.hostdir}/console.log")
        argv = ["nsenter", f"--target={self.pid1}", "--mount", "--uts", "--ipc", "--net",
                "--pid", "--cgroup", "--root", "--wd",
                "setpriv", "--bounding-set", DROPPED_CAPS, "--",
                "/usr/bin/env", "-i", f"PATH={HOST_PATH}", "HOME=/root", "LANG=C.UTF-8",
                "/bin/sh", "-c", cmd]
        proc = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise CommandFailed(proc.returncode, f"{self.name}: {cmd}", proc.stdout, proc.stderr)
        return proc

    # -- faults ---------------------------------------------------------------------------

    def stop_sshd(self) -> None:
        """Stop the listening sshd: new connections get "connection refused"."""
        self.exec("systemctl stop ssh.socket ssh.service" if self.init == "systemd"
                  else "kill $(cat /run/sshd.pid)")
        _wait(lambda: not self._port_open(), 10, f"{self.name}: sshd still listening")

    def start_sshd(self) -> None:
        """Start sshd again and wait until it answers with its banner."""
        self.exec("systemctl start ssh.service" if self.init == "systemd" else "/usr/sbin/sshd")
        self.wait_ready()

    def regenerate_host_keys(self) -> None:
        """New host keys, served at once; the fleet's known_hosts keeps the old ones, so
        clients see a changed host key. `heal()` puts the original keys back."""
        etc_ssh = self.root_path("/etc/ssh")
        saved = self.hostdir / "original-host-keys"
        if not saved.exists():
            saved.mkdir()
            for path in etc_ssh.glob("ssh_host_*"):
                shutil.move(path, saved / path.name)
        keys.generate_host_keys(etc_ssh, self.name)
        self.stop_sshd()  # sshd reads its host keys when it starts
        self.start_sshd()

    def freeze(self) -> None:
        """Freeze every process of the host: TCP still connects (the kernel answers), but no
        SSH banner ever comes."""
        self._set_frozen(True)

    def thaw(self) -> None:
        self._set_frozen(False)

    def link_down(self) -> None:
        """Take the host off the network, as a power cut or a pulled cable would: the bridge end
        of its veth goes down, so packets to it vanish with no reset and no ICMP answer."""
        network.set_link(self.name, up=False)

    def link_up(self) -> None:
        network.set_link(self.name, up=True)

    def heal(self) -> None:
        """Undo any fault injected above, so the next test sees a healthy host. A host whose
        PID 1 is gone (`reboot` inside stops a host) is booted again on the same disk."""
        if not self._pid1_alive():
            self._terminate()
            self._launch()
            self.wait_ready(SYSTEMD_BOOT_TIMEOUT)
        self.link_up()
        self._set_frozen(False)
        saved = self.hostdir / "original-host-keys"
        if saved.exists():
            for path in saved.iterdir():
                shutil.move(path, self.root_path("/etc/ssh") / path.name)
            saved.rmdir()
            self.stop_sshd()
            self.start_sshd()
        elif not self.banner():
            self.start_sshd()

    # -- life cycle -----------------------------------------------------------------------

    @classmethod
    def create(cls, name: str, address: str, hostdir: Path, base: Path, client_key: str,
               init: str = "auto") -> TestHost:
        """Build the host's disk and root, personalise it, boot it and wait for sshd.

        init="auto" tries systemd and falls back to "sshd-only" if systemd does not boot."""
        hostdir.mkdir(parents=True, exist_ok=True)
        host = cls(name, address, hostdir)
        host.loop = disk.create(hostdir, name, base)
        host._personalize(client_key)
        # systemd gets a second chance: a rare boot can stall on a machine under heavy load.
        for mode in ("systemd", "systemd", "sshd-only") if init == "auto" else (init,):
            host.init = mode
            host._launch()
            if host.wait_ready(SYSTEMD_BOOT_TIMEOUT, raise_error=False):
                return host
            host._log_failed_boot()
            host._terminate()
        console = (hostdir / "console.log").read_text(errors="replace")
        raise RuntimeError(f"{name}: sshd never answered; its console.log ends:\n{console[-3000:]}")

    def banner(self, timeout: float = 1.0) -> bool:
        """True when sshd accepts a TCP connection and sends its SSH banner."""
        try:
            with socket.create_connection((self.address, self.port), timeout=timeout) as sock:
                sock.settimeout(timeout)
                return sock.recv(4).startswith(b"SSH-")
        except OSError:
            return False

    def wait_ready(self, timeout: float = 20.0, raise_error: bool = True) -> bool:
        """Wait for the SSH banner; False (or an error) if PID 1 died or time ran out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._pid1_alive():
            if self.banner(timeout=3.0):  # generous: a loaded machine can be slow to greet
                return True
            time.sleep(0.05)
        if raise_error:
            raise RuntimeError(f"{self.name}: no SSH banner within {timeout}s")
        return False

    def stop(self) -> None:
        """Stop the host and remove everything it put on the machine; idempotent, and works
        from a fresh process (only the persisted fields are needed) or on leftovers by name."""
        self._terminate()
        disk.destroy(self.hostdir, self.name, self.loop)
        network.remove_host(self.name)
        remove_tree(self.hostdir)

    # -- internals ------------------------------------------------------------------------

    def _personalize(self, client_key: str) -> None:
        etc = self.root_path("/etc")
        (etc / "hostname").write_text(f"{self.name}\n")
        (etc / "hosts").write_text(f"127.0.0.1\tlocalhost\n{self.address}\t{self.name}\n"
                                   "::1\tlocalhost ip6-localhost ip6-loopback\n")
        (etc / "machine-id").write_text(secrets.token_hex(16) + "\n")
        keys.generate_host_keys(etc / "ssh", self.name)
        ids = {f[0]: (int(f[2]), int(f[3])) for f in
               (line.split(":") for line in (etc / "passwd").read_text().splitlines())}
        for user, home in USERS.items():
            ssh_dir = self.root_path(home) / ".ssh"
            ssh_dir.mkdir(mode=0o700, exist_ok=True)
            (ssh_dir / "authorized_keys").write_text(client_key)
            for path in (ssh_dir, ssh_dir / "authorized_keys"):
                os.chown(path, *ids[user])
            (ssh_dir / "authorized_keys").chmod(0o600)

    def _launch(self) -> None:
        self.cgroup.mkdir(parents=True, exist_ok=True)
        self.pid1 = 0
        argv = ["nsenter", f"--net=/run/netns/{self.name}",
                "unshare", "--uts", "--mount", "--pid", "--ipc", "--fork",
                "/bin/sh", str(BOOT_SCRIPT), "enter", str(self.root_path("/")), self.name,
                str(self.cgroup), self.init, DROPPED_CAPS]
        with open(self.hostdir / "console.log", "ab") as log:
            # Own session: hosts started by the CLI outlive it and ignore the terminal's ^C.
            launcher = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        self._launcher = launcher
        # Ready once PID 1 has moved itself into the host's cgroup (or the launch failed).
        _wait(lambda: ((self.pid1 or self._find_pid1()) and self._pid1_alive())
              or launcher.poll() is not None, 10, f"{self.name}: PID 1 did not appear")

    def _log_failed_boot(self) -> None:
        """Append why sshd did not answer to console.log (kept until the host is stopped)."""
        report = f"axis-testhosts: {self.init}: no SSH banner, PID 1 exited\n"
        if self._pid1_alive():
            try:
                report = self.exec(DIAGNOSE, check=False, timeout=30).stdout
            except subprocess.TimeoutExpired:
                report = "axis-testhosts: diagnosis timed out\n"
            report = f"axis-testhosts: {self.init}: no SSH banner, PID 1 alive\n{report}"
        with open(self.hostdir / "console.log", "a") as log:
            log.write(report)

    def _find_pid1(self) -> bool:
        """The launcher (unshare) forks the host's PID 1: find that child among /proc."""
        if self._launcher is None:
            return False
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == self._launcher.pid:
                    self.pid1 = int(entry)
                    return True
        return False

    def _pid1_alive(self) -> bool:
        """PID 1 still runs, checked by cgroup so a recycled pid is never signalled."""
        try:
            cgroups = Path(f"/proc/{self.pid1}/cgroup").read_text()
        except OSError:
            return False
        return f"/{CGROUP_PARENT}/{self.name}" in cgroups

    def _terminate(self) -> None:
        """Ask PID 1 to halt (systemd: SIGRTMIN+3), then cgroup.kill whatever is left."""
        if self.pid1 and self._pid1_alive():
            sig = signal.SIGRTMIN + 3 if self.init == "systemd" else signal.SIGTERM
            os.kill(self.pid1, sig)
            _wait(lambda: not self._pid1_alive(), 5, "", raise_error=False)
        kill_cgroup(self.cgroup)
        if self._launcher is not None:
            self._launcher.wait(timeout=10)
            self._launcher = None

    def _port_open(self) -> bool:
        try:
            socket.create_connection((self.address, self.port), timeout=0.5).close()
            return True
        except OSError:
            return False

    def _set_frozen(self, frozen: bool) -> None:
        freeze = self.cgroup / "cgroup.freeze"
        if freeze.exists():
            freeze.write_text("1" if frozen else "0")
            events = self.cgroup / "cgroup.events"
            _wait(lambda: f"frozen {int(frozen)}" in events.read_text(), 10,
                  f"{self.name}: cgroup did not {'freeze' if frozen else 'thaw'}")


def _wait(ready: Callable[[], object], timeout: float, message: str, raise_error: bool = True) -> bool:
    """Poll `ready()` every 20 ms until true or `timeout` seconds passed."""
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            if raise_error:
                raise RuntimeError(message)
            return False
        time.sleep(0.02)
    return True
