"""Host key verification: strict by default, with an explicit `accept-new` policy.

asyncssh checks keys against known_hosts but never writes it and ignores StrictHostKeyChecking,
so axis decides here. asyncssh calls `validate_host_public_key` only for a key that known_hosts
does not trust; at that point a host that known_hosts already lists under another key has
*changed* its key (refused under every policy), and a host it does not list at all is *unknown*
(refused when strict, recorded and accepted under accept-new, as OpenSSH's
`StrictHostKeyChecking accept-new` does).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import asyncssh

from axis.drivers.host_key_policy import HostKeyPolicy
from axis.drivers.transport import ErrorKind, TransportError

DEFAULT_KNOWN_HOSTS = Path("~/.ssh/known_hosts")


def known_hosts_files(explicit: Path | None, from_config: object) -> list[Path]:
    """The known_hosts files to trust: `--known-hosts`, else ssh_config's UserKnownHostsFile,
    else ~/.ssh/known_hosts. `UserKnownHostsFile none` in ssh_config would make asyncssh skip
    verification silently; axis keeps verifying against the default file instead."""
    if explicit is not None:
        return [explicit.expanduser()]
    if isinstance(from_config, (list, tuple)) and from_config:
        return [Path(str(p)).expanduser() for p in from_config]
    return [DEFAULT_KNOWN_HOSTS.expanduser()]


def load_trusted(files: Sequence[Path]) -> asyncssh.SSHKnownHosts:
    """All entries of the files that exist (a missing file trusts nothing, like OpenSSH).

    Parsed once per process for as long as the files stay the same (path, size, mtime): a
    fan-out opens one connection per host, and parsing a known_hosts of N hosts for each of
    them made a pass cost O(N²) key decodings."""
    stamp = tuple((str(p), st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
                  for p in files if (st := _stat(p)) is not None)
    cached = _TRUSTED.get(stamp)
    if cached is None:
        text = "".join(p.read_text(errors="replace") + "\n" for p in files if p.is_file())
        cached = asyncssh.import_known_hosts(text)
        if len(_TRUSTED) >= 8:
            _TRUSTED.clear()
        _TRUSTED[stamp] = cached
    return cached


_TRUSTED: dict[tuple[tuple[str, int, int, int, int], ...], asyncssh.SSHKnownHosts] = {}


def _stat(path: Path) -> os.stat_result | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st if path.is_file() else None


def _entry_host(host: str, port: int) -> str:
    return host if port == 22 else f"[{host}]:{port}"


class PolicyClient(asyncssh.SSHClient):
    """Applies the policy to a key known_hosts did not trust, and remembers why it refused."""

    def __init__(self, name: str, files: Sequence[Path], policy: HostKeyPolicy):
        self._name = name
        self._files = list(files)
        self._policy = policy
        self.refusal: TransportError | None = None
        self.recorded: str | None = None

    def validate_host_public_key(self, host: str, addr: str, port: int, key: asyncssh.SSHKey) -> bool:
        trusted = load_trusted(self._files).match(host, addr, port)[0]
        fingerprint = key.get_fingerprint()
        if trusted:
            self.refusal = TransportError(
                ErrorKind.HOST_KEY_MISMATCH, self._name,
                f"{host} now presents {key.get_algorithm()} key {fingerprint}, which differs from the one in "
                f"{self._files[0]}; refusing to connect (if the host was reinstalled, remove its old line)")
            return False
        if self._policy is HostKeyPolicy.STRICT:
            self.refusal = TransportError(
                ErrorKind.HOST_KEY_UNKNOWN, self._name,
                f"{host} ({key.get_algorithm()} {fingerprint}) is not in {self._files[0]}; add it "
                f"(ssh-keyscan) or run with --host-key-policy accept-new")
            return False
        self._record(host, port, key)
        return True

    def _record(self, host: str, port: int, key: asyncssh.SSHKey) -> None:
        path = self._files[0]
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        line = f"{_entry_host(host, port)} {key.export_public_key('openssh').decode().strip()}\n"
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode())  # one write of one line: concurrent appenders do not interleave
        finally:
            os.close(fd)
        self.recorded = f"recorded new host key {key.get_fingerprint()} for {host} in {path}"
