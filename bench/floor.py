"""The floor of a fan-out, as issue 21 defines it: a fresh Python process that imports asyncssh,
opens one connection per host and runs one command (`true`) on each, all at once, nothing else.

    python bench/floor.py --ssh-config FILE HOST...

bench/run.py times this whole process (interpreter start-up and the import included) beside
`axis status` and `axis apply`: what any asyncssh-based tool must pay at least. It reaches the
hosts as axis does: through the same ssh_config (alias → HostName, Port, User, IdentityFile,
UserKnownHostsFile), host keys checked against that known_hosts (asyncssh refuses a key it does
not list: strict checking), and the same cipher preference axis sets (AES-GCM first). It imports
nothing of axis, so the floor does not move with axis's own import costs. Exit status 0 only
when every host ran `true` with exit status 0; the failures are printed otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

import asyncssh

#: axis's cipher preference (axis.drivers.ssh.PREFERRED_CIPHERS), copied rather than imported:
#: importing axis would put its import time into the floor.
CIPHERS = "^aes128-gcm@openssh.com,aes256-gcm@openssh.com"


async def true_on(alias: str, ssh_config: str) -> str | None:
    """`true` on one host over a fresh connection; None when it exited 0, else what went wrong."""
    try:
        async with asyncssh.connect(alias, config=[ssh_config], encryption_algs=CIPHERS,
                                    connect_timeout=60) as conn:
            result = await conn.run("true")
    except (OSError, asyncssh.Error) as exc:
        return f"{alias}: {type(exc).__name__}: {exc}"
    return None if result.exit_status == 0 else f"{alias}: `true` exited {result.exit_status}"


async def fan_out(aliases: list[str], ssh_config: str) -> list[str]:
    """Every host at once; the failures."""
    return [e for e in await asyncio.gather(*(true_on(a, ssh_config) for a in aliases)) if e]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ssh-config", required=True, help="the ssh_config axis is given (--ssh-config)")
    parser.add_argument("hosts", nargs="+", help="host aliases in that ssh_config")
    args = parser.parse_args()
    failed = asyncio.run(fan_out(args.hosts, args.ssh_config))
    for line in failed:
        print(line, file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
