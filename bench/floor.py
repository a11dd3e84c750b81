"""The floor of a fan-out, as issue 21 defines it: a fresh Python process that imports asyncssh,
opens one connection per host and runs one command (`true`) on each, all at once, nothing else.

    python bench/floor.py --user root --identity KEY --known-hosts FILE [--port 22] ADDRESS...

bench/run.py times this whole process (interpreter start-up and the import included) beside
`axis status` and `axis apply`: what any asyncssh-based tool must pay at least. It reaches the
hosts as axis does on the bench's fleet (the ssh_config's HostName, User, IdentityFile and
UserKnownHostsFile, given here directly), host keys checked against that known_hosts (asyncssh
refuses a key it does not list: strict checking), with the cipher preference axis sets (AES-GCM
first). The key and the known_hosts are read once, not per connection, and no ssh_config is
parsed: asyncssh would parse the whole file again for every connection (0.2 s of CPU at 50
hosts), which is not the floor's work. It imports nothing of axis, so the floor does not move
with axis's own import costs. Exit status 0 only when every host ran `true` with exit status 0;
the failures are printed otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

import asyncssh

#: axis's cipher preference (axis.drivers.ssh.PREFERRED_CIPHERS), copied rather than imported:
#: importing axis would put its import time into the floor.
CIPHERS = "^aes128-gcm@openssh.com,aes256-gcm@openssh.com"


async def true_on(address: str, options: asyncssh.SSHClientConnectionOptions) -> str | None:
    """`true` on one host over a fresh connection; None when it exited 0, else what went wrong."""
    try:
        async with asyncssh.connect(address, options=options) as conn:
            result = await conn.run("true")
    except (OSError, asyncssh.Error) as exc:
        return f"{address}: {type(exc).__name__}: {exc}"
    return None if result.exit_status == 0 else f"{address}: `true` exited {result.exit_status}"


async def fan_out(addresses: list[str], options: asyncssh.SSHClientConnectionOptions) -> list[str]:
    """Every host at once; the failures."""
    return [e for e in await asyncio.gather(*(true_on(a, options) for a in addresses)) if e]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--user", required=True)
    parser.add_argument("--identity", required=True, help="the private key (ssh_config's IdentityFile)")
    parser.add_argument("--known-hosts", required=True, help="the only trusted host keys (UserKnownHostsFile)")
    parser.add_argument("--port", type=int, default=22)
    parser.add_argument("addresses", nargs="+", help="the hosts' addresses (ssh_config's HostName)")
    args = parser.parse_args()
    # config=None: no ssh_config at all (not even ~/.ssh/config); agent and other keys off, as
    # IdentitiesOnly does. One options object for every connection: key and known_hosts read once.
    options = asyncssh.SSHClientConnectionOptions(
        config=None, port=args.port, username=args.user, client_keys=[asyncssh.read_private_key(args.identity)],
        known_hosts=asyncssh.read_known_hosts(args.known_hosts), agent_path=None, encryption_algs=CIPHERS,
        connect_timeout=60)
    failed = asyncio.run(fan_out(args.addresses, options))
    for line in failed:
        print(line, file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
