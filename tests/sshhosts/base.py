"""The shared, read-only base root filesystem every test host overlays.

Built once per suite + package list with `debootstrap --variant=minbase` (about a minute cold)
and cached, because every host start must stay in the seconds. The mirror is read from the
machine's own apt sources so the harness works wherever apt works, with no host name in code.
A build goes to a temp dir that is renamed into place, so a killed build never leaves a
half-built base that later runs would trust.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
from pathlib import Path

from .buildlog import BuildProgress
from .system import HarnessUnavailable, remove_tree, run, stream

PACKAGES = (
    "openssh-server", "systemd", "systemd-sysv", "dbus", "sudo", "python3", "procps",
    "iproute2", "kmod", "ca-certificates", "curl", "cron", "git",
)
# Bump when _customize() changes, so cached bases built by the old recipe are not reused.
RECIPE = 1
DEFAULT_CACHE = Path("/var/cache/axis-testhosts")
SUDOERS = {
    "axis-ops": "ops ALL=(ALL:ALL) NOPASSWD: ALL\n",  # sudo without a password
    "axis-pw": "pw ALL=(ALL:ALL) ALL\n",  # sudo that asks for pw's password ("pw")
}
SSHD_CONF = (
    "# axis test host: per-host keys are written at start; no RSA (slow to generate)\n"
    "HostKey /etc/ssh/ssh_host_ed25519_key\n"
    "HostKey /etc/ssh/ssh_host_ecdsa_key\n"
    "PermitRootLogin prohibit-password\n"
    "PasswordAuthentication no\n"
)


def cache_dir() -> Path:
    """Cache root: $AXIS_TESTHOSTS_CACHE or /var/cache/axis-testhosts."""
    return Path(os.environ.get("AXIS_TESTHOSTS_CACHE") or DEFAULT_CACHE)


def os_suite(os_release: Path = Path("/etc/os-release")) -> str:
    """The machine's own suite (VERSION_CODENAME), so hosts run the same Debian as the machine."""
    match = re.search(r"^VERSION_CODENAME=\"?([a-z]+)", os_release.read_text(), re.M)
    if not match:
        raise HarnessUnavailable(f"no VERSION_CODENAME in {os_release}")
    return match.group(1)


def apt_mirror(suite: str, etc_apt: Path = Path("/etc/apt")) -> str:
    """First `deb` URI the machine's apt sources use for `suite` (deb822 or one-line format)."""
    files = sorted(etc_apt.glob("sources.list.d/*.sources"))
    for path in files:
        for stanza in re.split(r"\n\s*\n", path.read_text()):
            fields = dict(_deb822_fields(stanza))
            if ("deb" in fields.get("types", "").split() and suite in fields.get("suites", "").split()
                    and fields.get("enabled", "yes") != "no" and fields.get("uris")):
                return fields["uris"].split()[0]
    for path in [etc_apt / "sources.list", *sorted(etc_apt.glob("sources.list.d/*.list"))]:
        for line in path.read_text().splitlines() if path.exists() else []:
            words = re.sub(r"\[[^]]*\]", "", line.split("#")[0]).split()
            if len(words) >= 3 and words[0] == "deb" and words[2] == suite:
                return words[1]
    raise HarnessUnavailable(f"no apt source for suite {suite!r} under {etc_apt}")


def base_key(suite: str) -> str:
    """Cache key: suite + hash of the package list and recipe version."""
    digest = hashlib.sha256(f"{RECIPE}:{','.join(sorted(PACKAGES))}".encode()).hexdigest()
    return f"{suite}-{digest[:12]}"


def ensure_base() -> Path:
    """Path of the ready base root filesystem, building it first if it is not cached (saying
    so on stderr, with progress lines: see buildlog).

    An flock serialises concurrent builders (two pytest runs, pytest + CLI)."""
    suite = os_suite()
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    final = cache / base_key(suite)
    with open(cache / ".lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            BuildProgress().say(f"waiting for another process building the base in {cache}")
            fcntl.flock(lock, fcntl.LOCK_EX)
        if not final.is_dir():
            _build(suite, apt_mirror(suite), final)
    return final


def _build(suite: str, mirror: str, final: Path) -> None:
    progress = BuildProgress()
    progress.say(f"building the base root filesystem once (about a minute): debootstrap {suite} from {mirror}")
    for stale in final.parent.glob(".build-*"):
        remove_tree(stale)  # leftovers of a killed build; we hold the lock
    tmp = final.parent / f".build-{final.name}-{os.getpid()}"
    debs = final.parent / "debs"
    debs.mkdir(exist_ok=True)
    cmd = ["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}",
           f"--cache-dir={debs}", suite, str(tmp), mirror]
    try:
        code, output = stream(cmd, progress.line, progress.waiting, timeout=1800)
        if code != 0:
            log = tmp / "debootstrap" / "debootstrap.log"
            tail = log.read_text()[-2000:] if log.exists() else "\n".join(output)[-2000:]
            raise HarnessUnavailable(f"debootstrap failed ({code}): {tail}")
        progress.stage_started("adding the test users and the sshd settings")
        _customize(tmp)
        tmp.rename(final)
        progress.say(f"base ready: {final}")
    finally:
        remove_tree(tmp)


def _customize(root: Path) -> None:
    """Make the minbase image boot as a quiet container and carry the test users."""
    for key in (root / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    (root / "etc/ssh/sshd_config.d/axis.conf").write_text(SSHD_CONF)
    (root / "etc/machine-id").write_text("")  # each host writes its own at start
    (root / "etc/hostname").unlink(missing_ok=True)
    mask = root / "etc/systemd/system/console-getty.service"
    mask.unlink(missing_ok=True)
    mask.symlink_to("/dev/null")
    pam = root / "etc/pam.d/sshd"
    pam.write_text(re.sub(r"^session\s+required\s+pam_loginuid\.so", "session optional pam_loginuid.so",
                          pam.read_text(), flags=re.M))
    for user in ("ops", "pw"):
        run(["chroot", str(root), "useradd", "--create-home", "--shell", "/bin/bash", user])
    run(["chroot", str(root), "chpasswd"], input="pw:pw\n")
    for name, rule in SUDOERS.items():
        path = root / "etc/sudoers.d" / name
        path.write_text(rule)
        path.chmod(0o440)
    for deb in (root / "var/cache/apt/archives").glob("*.deb"):
        deb.unlink()


def _deb822_fields(stanza: str) -> list[tuple[str, str]]:
    fields: list[tuple[str, str]] = []
    for line in stanza.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        if line[0].isspace() and fields:
            fields[-1] = (fields[-1][0], f"{fields[-1][1]} {line.strip()}")
        elif ":" in line:
            key, _, value = line.partition(":")
            fields.append((key.strip().lower(), value.strip()))
    return fields
