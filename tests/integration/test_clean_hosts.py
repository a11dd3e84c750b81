"""`axis clean` on real hosts: a dry run lists what would go and deletes nothing; a real run
removes only files older than the retention (never /tmp itself, never a current log however old,
rotated logs yes), only on the host it names, and reports the bytes it freed."""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator

import pytest

from tests.integration.fleetspecs import fleet_axis, host_specs

pytestmark = pytest.mark.hosts

MIB = 2**20
#: Seeded files: path → (size in bytes, age). "old" is 10 days, beyond a retention of 3 days.
SEEDS = {
    "/tmp/axis-clean/old-big.bin": (6 * MIB, "old"),
    "/tmp/axis-clean/old-small.txt": (1000, "old"),
    "/tmp/axis-clean/new.txt": (2000, "new"),
    "/tmp/axis-clean-old-top.bin": (3 * MIB, "old"),
    "/var/tmp/axis-clean-old.bin": (2 * MIB, "old"),
    "/var/tmp/axis-clean-new.bin": (5000, "new"),
    "/var/log/axis-clean-test.log": (4000, "old"),           # a current log: never removed
    "/var/log/axis-clean-test.log.1": (3000, "old"),         # rotated and old: goes
    "/var/log/axis-clean-test.log.2.gz": (1 * MIB, "old"),   # compressed and old: goes
    "/var/log/axis-clean-fresh.log.1": (500, "new"),         # rotated but recent: stays
}
OLD_EMPTY_DIR = "/tmp/axis-clean/old-empty"
OLD = {p for p, (_, age) in SEEDS.items() if age == "old" and p != "/var/log/axis-clean-test.log"}
KEPT = set(SEEDS) - OLD


def _seed(host) -> None:
    script = ["mkdir -p /tmp/axis-clean"]
    for path, (size, age) in SEEDS.items():
        q = shlex.quote(path)
        script.append(f"head -c {size} /dev/urandom > {q}")
        if age == "old":
            script.append(f"touch -d '10 days ago' {q}")
    script.append(f"mkdir -p {OLD_EMPTY_DIR} && touch -d '10 days ago' {OLD_EMPTY_DIR}")
    host.exec(" && ".join(script))


def _stamps(host) -> dict[str, str]:
    """Path → "size mtime" for every seeded path that exists (and the old empty directory)."""
    paths = " ".join(shlex.quote(p) for p in (*SEEDS, OLD_EMPTY_DIR))
    out = host.exec(f"for p in {paths}; do [ -e \"$p\" ] && stat -c '%n %s %Y' \"$p\"; done; true").stdout
    return {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in out.splitlines()}


def _steps(report: dict) -> dict[str, dict]:
    return {s["name"]: s for s in report["steps"]}


@pytest.fixture
def seeded(fleet) -> Iterator[None]:
    def remove() -> None:
        for host in fleet.hosts:
            host.exec("rm -rf /tmp/axis-clean " + " ".join(shlex.quote(p) for p in SEEDS))
    remove()
    for host in fleet.hosts[:2]:
        _seed(host)
    yield
    remove()


def test_clean_dry_run_deletes_nothing_and_clean_removes_only_old_files(fleet, axis, specs, seeded):
    run = fleet_axis(fleet, axis)
    target, bystander = fleet.hosts[0], fleet.hosts[1]
    spec = specs({"hosts.yaml": host_specs(fleet, features="{diskCleanup: {retentionDays: 3}}")})
    assert run("apply", "--no-converge", "-f", str(spec)).code == 0
    before = _stamps(target)
    assert set(before) == set(SEEDS) | {OLD_EMPTY_DIR}

    dry = run("clean", target.name, "--dry-run", "-o", "json")
    assert dry.code == 0, dry.out + dry.err
    [report] = json.loads(dry.out)
    assert (report["host"], report["status"], report["dryRun"], report["tiers"]) == (target.name, "ok", True, ["safe"])
    assert report["freedBytes"] == 0  # a dry run frees nothing, whatever df says meanwhile
    steps = _steps(report)
    old_tmp = [p for p in OLD if p.startswith("/tmp/")]
    assert steps["/tmp"] == {"tier": "safe", "name": "/tmp", "result": "would-remove", "files": len(old_tmp),
                             "bytes": sum(SEEDS[p][0] for p in old_tmp), "emptyDirs": 1}
    assert steps["/var/tmp"]["result"] == "would-remove" and steps["/var/tmp"]["files"] == 1
    assert steps["/var/tmp"]["bytes"] == 2 * MIB
    assert steps["/var/log"]["result"] == "would-remove" and steps["/var/log"]["files"] == 2
    assert steps["/var/log"]["bytes"] == 3000 + MIB
    assert any(s["result"] == "would-run" and s["name"].startswith("journalctl --vacuum") for s in report["steps"])
    assert report["estimateBytes"] >= 11 * MIB + 4000
    assert _stamps(target) == before  # nothing deleted, nothing touched

    table = run("clean", target.name, "--dry-run")
    assert table.code == 0
    assert "WOULD FREE" in table.out and "would-remove" in table.out and "/var/log" in table.out
    assert _stamps(target) == before

    real = run("clean", target.name, "-o", "json")
    assert real.code == 0, real.out + real.err
    [report] = json.loads(real.out)
    assert [report["host"], report["status"], report["dryRun"]] == [target.name, "ok", False]
    steps = _steps(report)
    assert steps["/tmp"]["result"] == "removed" and steps["/tmp"]["files"] == len(old_tmp)
    assert steps["/var/log"]["result"] == "removed" and steps["/var/log"]["files"] == 2
    # df before/after on the host's own disk: at least the old files' 11 MiB came back
    assert report["freedBytes"] >= 10 * MIB, report
    assert report["beforeBytes"] - report["afterBytes"] == report["freedBytes"]

    after = _stamps(target)
    assert set(after) == KEPT, after
    assert {p: after[p] for p in KEPT} == {p: before[p] for p in KEPT}  # the survivors untouched
    assert target.exec("stat -c '%a %U' /tmp /var/tmp").stdout == "1777 root\n1777 root\n"  # roots stay
    assert target.exec("test -d /tmp/axis-clean").returncode == 0  # it still holds a new file
    # `axis clean HOST` cleans that host only
    assert set(_stamps(bystander)) == set(SEEDS) | {OLD_EMPTY_DIR}

    again = run("clean", target.name, "--dry-run", "-o", "json")
    steps = _steps(json.loads(again.out)[0])
    assert steps["/tmp"]["files"] == 0 and steps["/var/log"]["files"] == 0 and steps["/tmp"]["emptyDirs"] == 0
