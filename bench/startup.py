"""CLI start-up per command: the wall time of a whole `axis` process that answers from the
bench's state DB (the fleet's hosts, their stored facts, one bound claim), best and median of
several runs, the commands interleaved round by round. No host is contacted: no SSH, no
controller. Issue 21 asks ≤ 0.25 s wall of the commands that read the DB (`get`, `describe`,
`place`) and of `--help`; the others are shown for information."""

from __future__ import annotations

import shlex
from collections.abc import Callable

from bench.timing import BenchError, Figure, checked, measure
from bench.tools import Tools

#: A claim for `get claims` to list: bound to a fleet host when applied (24 h: outlives the run).
CLAIM = ("apiVersion: axis/v1\nkind: Claim\nmetadata: {name: bench-ci}\n"
         "spec:\n  task: run the test suite\n  ttl: 24h\n")
#: A task the test hosts fit (the bench's claim is bound with it): `place` exits 3 when none fits,
#: and a timed run must exit 0.
PLACE_TASK = "run the test suite"

#: (figure key, the command's words after `axis`, whether it runs on the bench's state DB:
#: `--state` and `--ssh-config` first, as every bench command is given them).
COMMANDS: list[tuple[str, list[str], bool]] = [
    ("startup_help", ["--help"], False),
    ("startup_version", ["--version"], False),
    ("startup_get_hosts", ["get", "hosts"], True),
    ("startup_get_claims", ["get", "claims"], True),
    ("startup_describe_host", ["describe", "host", "{host}"], True),
    ("startup_place", ["place", PLACE_TASK], True),
    ("startup_status_cached", ["status", "--cached"], True),
]
#: The commands issue 21 gives the ≤ 0.25 s goal.
STARTUP_GOAL_KEYS = ("startup_help", "startup_get_hosts", "startup_get_claims", "startup_describe_host",
                     "startup_place")
STARTUP_GOAL_SECONDS = 0.25


def prepare_state(tools: Tools, *, have_facts: bool) -> None:
    """Give the state DB what the commands show: stored facts (one `axis status` unless the fan-out
    figures stored them already) and the bound claim."""
    if not have_facts:
        tools.axis_status()
    claims = tools.setup.work / "claims.yaml"
    claims.write_text(CLAIM)
    _, proc = checked(tools.axis_cmd("apply", "-f", str(claims)))
    if "bound to" not in proc.stdout + proc.stderr:
        raise BenchError(f"the bench's claim was not bound:\n{proc.stdout}{proc.stderr}")


def measure_startup(tools: Tools, rounds: int) -> dict[str, Figure]:
    """`rounds` timed runs of every command (after one untimed run each), each run checked (exit 0,
    some output), its wall time from process start to exit as a user sees it."""
    host = tools.setup.hosts[0][0]
    runs = []
    for key, words, on_state in COMMANDS:
        args = [w.format(host=host) for w in words]
        cmd = tools.axis_cmd(*args) if on_state else [tools.axis, *args]
        shown = " ".join(shlex.quote(a) for a in ["axis", *(["--state", "state.db"] if on_state else []), *args])
        name = "axis " + (" ".join(args) if key != "startup_place" else "place TASK")
        runs.append((key, Figure(name, shown), cmd))
    measure([(fig, _checked_run(cmd)) for _, fig, cmd in runs], rounds, hosts_cpu=None)
    return {key: fig for key, fig, _ in runs}


def _checked_run(cmd: list[str]) -> Callable[[], float]:
    """One timed run of `cmd` that must exit 0 and print something."""
    def once() -> float:
        took, proc = checked(cmd, timeout=60)
        if not proc.stdout.strip():
            raise BenchError(f"`{' '.join(cmd)}` printed nothing")
        return took
    return once
