"""Start and stop a fleet of test hosts by hand (benchmarks, demos):

    python -m tests.sshhosts up -n 20 --dir /tmp/axis-hosts
    python -m tests.sshhosts down --dir /tmp/axis-hosts

`up` leaves the hosts running after it exits; its state is saved in --dir for `down`. The
defaults (names axis-c1.., bridge axisbr1, 10.77.1.0/24) differ from the pytest fleet's
(axis-t1.., axisbr0), so a demo fleet and a test session can run side by side.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .fleet import Fleet
from .system import HarnessUnavailable


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.sshhosts", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start hosts and print how to reach them")
    up.add_argument("-n", type=int, default=3, help="number of hosts (default 3)")
    up.add_argument("--prefix", default="axis-c", help="host name prefix (default axis-c)")
    up.add_argument("--net", type=int, default=1, help="fleet network number (10.77.NET.0/24)")
    up.add_argument("--init", choices=("auto", "sshd-only"), default="auto")
    for command in (up, sub.add_parser("down", help="stop the hosts started in --dir")):
        command.add_argument("--dir", type=Path, required=True, help="fleet state directory")
    args = parser.parse_args(argv)
    try:
        if args.command == "down":
            fleet = Fleet.attach(args.dir)
            fleet.stop()
            print(f"stopped {len(fleet.hosts)} hosts in {fleet.timings['stop']:.1f}s")
            return 0
        fleet = Fleet.start(args.n, args.dir, prefix=args.prefix, net=args.net, init=args.init)
    except HarnessUnavailable as exc:
        print(f"test hosts unavailable: {exc.reason}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"no fleet state there: {exc.filename}", file=sys.stderr)
        return 1
    print(f"ssh_config:  {fleet.ssh_config}\nknown_hosts: {fleet.known_hosts}\n"
          f"identity:    {fleet.identity}\n"
          f"started {len(fleet.hosts)} hosts in {fleet.timings['hosts']:.1f}s "
          f"(base ready in {fleet.timings['base']:.1f}s)")
    for host in fleet.hosts:
        print(f"{host.name}\t{host.address}:{host.port}\tinit={host.init}")
    print(f"try: ssh -F {fleet.ssh_config} {fleet.hosts[0].name} hostname")
    return 0


if __name__ == "__main__":
    sys.exit(main())
