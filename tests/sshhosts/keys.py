"""SSH keys and the client-side files of a fleet (known_hosts, ssh_config).

Host keys are ed25519 + ecdsa only: RSA costs about a second of CPU per key, which for 20 hosts
would dominate start-up. The client side is written as plain OpenSSH files so the product is
exercised through the same ~/.ssh/config-style configuration a user would hand it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from .system import run

HOST_KEY_TYPES = ("ed25519", "ecdsa")


def generate_key(path: Path, key_type: str, comment: str) -> None:
    """A fresh passphrase-less key pair at `path` / `path.pub` (replacing any existing one)."""
    path.unlink(missing_ok=True)
    path.with_name(path.name + ".pub").unlink(missing_ok=True)
    run(["ssh-keygen", "-q", "-t", key_type, "-N", "", "-C", comment, "-f", str(path)])


def generate_host_keys(etc_ssh: Path, host: str) -> None:
    for key_type in HOST_KEY_TYPES:
        generate_key(etc_ssh / f"ssh_host_{key_type}_key", key_type, f"root@{host}")


def host_public_keys(etc_ssh: Path) -> list[str]:
    """`type base64` of each host key, as known_hosts wants them (comment dropped)."""
    keys = []
    for key_type in HOST_KEY_TYPES:
        words = (etc_ssh / f"ssh_host_{key_type}_key.pub").read_text().split()
        keys.append(f"{words[0]} {words[1]}")
    return keys


def write_known_hosts(path: Path, entries: Iterable[tuple[str, str, list[str]]]) -> None:
    """One line per (alias, address, keys) entry: both names, because OpenSSH checks the
    HostName it connects to while other clients may check the alias."""
    lines = [f"{alias},{address} {key}" for alias, address, keys in entries for key in keys]
    path.write_text("\n".join(lines) + "\n")


def write_ssh_config(path: Path, hosts: Iterable[tuple[str, str, int]], identity: Path,
                     known_hosts: Path) -> None:
    """`Host <alias>` blocks (HostName/Port/User root/IdentityFile/UserKnownHostsFile,
    StrictHostKeyChecking yes) for `ssh -F path <alias>` or an Include from ~/.ssh/config."""
    blocks = []
    for alias, address, port in hosts:
        blocks.append(
            f"Host {alias}\n"
            f"    HostName {address}\n"
            f"    Port {port}\n"
            f"    User root\n"
            f"    IdentityFile {identity}\n"
            f"    IdentitiesOnly yes\n"
            f"    UserKnownHostsFile {known_hosts}\n"
            f"    StrictHostKeyChecking yes\n"
        )
    path.write_text("\n".join(blocks))
