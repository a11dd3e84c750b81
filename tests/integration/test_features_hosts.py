"""Every Linux bootstrap feature on real hosts (swapfile, persistentJournal, watchdog, diskCleanup):
`axis diff` lists the steps, `axis apply` converges from scratch, the files are checked on the
hosts themselves, the kernel steps a namespaced host refuses are reported with its own words, a
second apply runs nothing and touches nothing, `false` removes exactly what axis wrote, and a
file deleted by hand is found and put back.

What the test hosts really do with each live step (systemd as PID 1 in namespaces, overlay root):
`swapon` → "swapon failed: Invalid argument", `sysctl -p` → `permission denied on key
"vm.swappiness"`, `modprobe softdog` → "Module softdog not found"; `systemctl restart
systemd-journald` and `systemctl daemon-reexec` work (the manager then reports the new
RuntimeWatchdogUSec).
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator

import pytest

from axis.drivers.features.cleanup_script import LOG_PATH, SCRIPT_PATH, render as render_cleanup
from axis.drivers.features.persistent_journal import JOURNAL_DIR, MARKER as JOURNAL_MARKER
from axis.drivers.features.swapfile import FSTAB_MARK, MARKER as SWAP_MARKER, SYSCTL as SWAP_SYSCTL, render_sysctl
from axis.drivers.features.watchdog import MODULES, SYSTEM, render_modules, render_system
from axis.specs.features import DiskCleanupSettings, SwapfileSettings, WatchdogSettings
from tests.ci import require_systemd
from tests.integration.fleetspecs import fleet_axis, host_specs, host_views

pytestmark = pytest.mark.hosts

SWAPFILE = "/swapfile"
FEATURES = ("{swapfile: {size: 64M, swappiness: 20}, persistentJournal: {}, "
            "watchdog: {timeoutSeconds: 20}, diskCleanup: {retentionDays: 5, deepAtPercent: 90}}")
OFF = "{swapfile: false, persistentJournal: false, watchdog: false, diskCleanup: false}"
SWAP = SwapfileSettings(size="64M", swappiness=20)
WATCHDOG = WatchdogSettings(timeoutSeconds=20)
CLEANUP = DiskCleanupSettings(retentionDays=5, deepAtPercent=90)
#: Files axis writes for FEATURES (the journal directory aside).
MANAGED = (SWAPFILE, SWAP_MARKER, SWAP_SYSCTL, MODULES, SYSTEM, SCRIPT_PATH, JOURNAL_MARKER)
#: Files of someone else, beside axis's: they must survive `false`.
FOREIGN = {"/etc/sysctl.d/99-someone-else.conf": "vm.swappiness = 33\n",
           "/etc/modules-load.d/someone-else.conf": "loop\n",
           "/etc/systemd/system.conf.d/50-someone-else.conf": "[Manager]\nDefaultTimeoutStopSec=20s\n",
           "/etc/cron.daily/someone-else": "#!/bin/sh\nexit 0\n"}
FOREIGN_FSTAB = "LABEL=data /data ext4 defaults,nofail 0 2\n"
#: Steps of a fresh host, as `axis diff` prints them (journal directory absent).
FRESH_STEPS = (
    f"+ diskCleanup: create {SCRIPT_PATH} (daily disk clean-up, retention 5d, deep tier at 90%)",
    f"+ persistentJournal: create {JOURNAL_MARKER} (remember that axis created {JOURNAL_DIR})",
    f"+ persistentJournal: create {JOURNAL_DIR}",
    "~ persistentJournal: restart systemd-journald  [live]",
    f"+ swapfile: create {SWAP_MARKER} (claim the swap file path for axis)",
    f"+ swapfile: create swap file {SWAPFILE} (64Mi)",
    f"~ swapfile: update /etc/fstab (swap line for {SWAPFILE})",
    f"~ swapfile: activate swap file {SWAPFILE}  [live]",
    f"+ swapfile: create {SWAP_SYSCTL} (vm.swappiness = 20)",
    f"~ swapfile: load {SWAP_SYSCTL} into the running kernel  [live]",
    f"+ watchdog: create {MODULES} (softdog at boot)",
    f"+ watchdog: create {SYSTEM} (RuntimeWatchdogSec=20s)",
    "~ watchdog: load the softdog module  [live]",
    "~ watchdog: re-execute systemd to apply the watchdog settings  [live]",
)


def _features(view: dict) -> dict:
    return {f["feature"]: f for f in view["features"]}


def _cat(host, path: str) -> str:
    return host.exec(f"cat {shlex.quote(path)}").stdout


def _exists(host, path: str) -> bool:
    return host.exec(f"test -e {shlex.quote(path)}", check=False).returncode == 0


def _stamps(host, paths) -> str:
    """Inode, size and mtime (ns) of each path: any write, even of the same bytes, changes it."""
    return host.exec("stat -c '%n %i %s %.9Y' " + " ".join(map(shlex.quote, paths))).stdout


def _runtime_watchdog(host) -> str:
    return host.exec("systemctl show -p RuntimeWatchdogUSec --value").stdout.strip()


def _reset(host, fstab: str, journal: bool) -> None:
    """The host as it booted: no axis file, no foreign file, fstab as given, systemd without a
    watchdog, and the journal directory present (`journal`) or absent."""
    files = " ".join(shlex.quote(p) for p in (*MANAGED, LOG_PATH, f"{SWAPFILE}.axis-new", *FOREIGN))
    host.exec(f"rm -f {files} && rm -rf /var/lib/axis")
    host.exec("cat > /etc/fstab", input=fstab)
    if _runtime_watchdog(host) != "0":
        host.exec("systemctl daemon-reexec")
    have = _exists(host, JOURNAL_DIR)
    if journal and not have:
        host.exec(f"mkdir -p {JOURNAL_DIR} && systemd-tmpfiles --create --prefix {JOURNAL_DIR} "
                  "&& systemctl restart systemd-journald")
    elif not journal and have:
        host.exec(f"rm -rf {JOURNAL_DIR} && systemctl restart systemd-journald")


@pytest.fixture
def pristine(fleet) -> Iterator[dict]:
    """Hosts without any feature file, journal directory absent (axis creates it from scratch);
    afterwards each host is put back as it booted. Yields each host's original /etc/fstab."""
    require_systemd(fleet.hosts, "journald and daemon-reexec need systemd")
    fstabs = {h.name: _cat(h, "/etc/fstab") for h in fleet.hosts}
    assert not any(FSTAB_MARK in text for text in fstabs.values()), "a previous test left axis's fstab line"
    for host in fleet.hosts:
        _reset(host, fstabs[host.name], journal=False)
    yield fstabs
    for host in fleet.hosts:
        host.heal()
        _reset(host, fstabs[host.name], journal=True)


def test_every_feature_converges_from_scratch_and_a_second_apply_changes_nothing(fleet, axis, specs, pristine):
    run = fleet_axis(fleet, axis)
    spec = specs({"hosts.yaml": host_specs(fleet, features=FEATURES)})

    diff = run("diff", "-f", str(spec))
    assert diff.code == 2, diff.out + diff.err
    for host in fleet.hosts:
        assert f"{host.name}: 14 change(s)" in diff.out
    lines = diff.out.splitlines()
    for step in FRESH_STEPS:
        assert lines.count(f"  {step}") == len(fleet.hosts), (step, diff.out)
    assert diff.out.count(f"      +{FSTAB_MARK}\n      +{SWAPFILE} none swap sw 0 0\n") == len(fleet.hosts)
    # the same plan as the CI example takes it: a PR comment and the JSON document, one observation
    saved = spec.parent / "plan.json"
    comment = run("diff", "-f", str(spec), "-o", "markdown", "--out", str(saved))
    assert comment.code == 2, comment.err
    plan = json.loads(saved.read_text())
    assert plan["summary"]["toChange"] == len(fleet.hosts) and plan["summary"]["steps"] == 14 * len(fleet.hosts)
    for host_plan in plan["hosts"]:
        fstab = next(s for s in host_plan["steps"] if s["summary"].startswith("update /etc/fstab"))
        assert fstab["action"] == "change" and f"+{SWAPFILE} none swap sw 0 0" in fstab["diff"]
        assert sum(s["live"] for s in host_plan["steps"]) == sum(s.endswith("[live]") for s in FRESH_STEPS)
    assert comment.out.count("<details>") == len(fleet.hosts) and len(comment.out.encode()) < 65_536

    first = run("apply", "-f", str(spec), "-o", "json")
    assert first.code == 0, first.out + first.err  # refused kernel steps do not fail the host
    for host in fleet.hosts:
        view = host_views(first)[host.name]
        assert view["status"] == "changed" and view["reason"] is None, view
        features = _features(view)
        assert {n: f["state"] for n, f in features.items()} == {
            "diskCleanup": "applied", "persistentJournal": "applied", "swapfile": "refused", "watchdog": "refused"}
        results = {n: {r["summary"]: (r["status"], r["message"]) for r in f["results"]} for n, f in features.items()}
        # the host's own words for each refusal, in the results and in the feature's message
        swapon = results["swapfile"][f"activate swap file {SWAPFILE}"]
        assert swapon[0] == "refused" and "swapon failed: Invalid argument" in swapon[1], swapon
        sysctl = results["swapfile"][f"load {SWAP_SYSCTL} into the running kernel"]
        assert sysctl[0] == "refused" and 'permission denied on key "vm.swappiness"' in sysctl[1], sysctl
        modprobe = results["watchdog"]["load the softdog module"]
        assert modprobe[0] == "refused" and "Module softdog not found" in modprobe[1], modprobe
        assert "swapon failed: Invalid argument" in features["swapfile"]["message"]
        assert "Module softdog not found" in features["watchdog"]["message"]
        assert [r["target"] for r in features["swapfile"]["refused"]] == [
            f"swapon {SWAPFILE}", f"sysctl -p {SWAP_SYSCTL}"]
        assert [r["target"] for r in features["watchdog"]["refused"]] == ["modprobe softdog"]
        # what the namespaced host does allow: restarting journald, re-executing systemd
        assert results["persistentJournal"]["restart systemd-journald"] == ("done", "")
        assert results["watchdog"]["re-execute systemd to apply the watchdog settings"] == ("done", "")
        assert all(status == "done" for f in results.values() for s, (status, _) in f.items()
                   if s not in (f"activate swap file {SWAPFILE}", f"load {SWAP_SYSCTL} into the running kernel",
                                "load the softdog module"))

    for host in fleet.hosts:
        # swapfile: a 64 MiB swap file made by mkswap, root-only, and one fstab line under axis's mark
        assert host.exec(f"stat -c '%s %a %U %F' {SWAPFILE}").stdout == "67108864 600 root regular file\n"
        assert host.exec(f"dd if={SWAPFILE} bs=1 skip=4086 count=10 status=none").stdout == "SWAPSPACE2"
        fstab = _cat(host, "/etc/fstab")
        assert fstab == pristine[host.name] + f"{FSTAB_MARK}\n{SWAPFILE} none swap sw 0 0\n"
        assert [line.split()[0] for line in fstab.splitlines() if line and not line.startswith("#")] == [SWAPFILE]
        assert _cat(host, SWAP_SYSCTL) == render_sysctl(SWAP)
        assert _cat(host, SWAP_MARKER).splitlines()[1:] == [SWAPFILE]
        # persistentJournal: the directory, and journald writing there after its restart
        machine_id = _cat(host, "/etc/machine-id").strip()
        assert host.exec(f"stat -c '%U:%G %a' {JOURNAL_DIR}").stdout == "root:systemd-journal 2755\n"
        assert _exists(host, f"{JOURNAL_DIR}/{machine_id}")
        assert _exists(host, JOURNAL_MARKER)
        # watchdog: both files, and the manager re-executed with the new RuntimeWatchdogSec
        assert _cat(host, MODULES) == render_modules() == "# managed by axis: watchdog\nsoftdog\n"
        assert _cat(host, SYSTEM) == render_system(WATCHDOG)
        assert "RuntimeWatchdogSec=20s" in _cat(host, SYSTEM)
        assert _runtime_watchdog(host) == "20s"
        # diskCleanup: the cron script, executable, root's, the very text `axis clean` runs
        assert host.exec(f"stat -c '%a %U:%G' {SCRIPT_PATH}").stdout == "755 root:root\n"
        script = _cat(host, SCRIPT_PATH)
        assert script == render_cleanup(CLEANUP)
        assert script.startswith("#!/bin/sh\n# managed by axis: diskCleanup (retention 5 days")
        assert host.exec(f"sh -n {SCRIPT_PATH}").returncode == 0

    table = run("get", "hosts").out
    for host in fleet.hosts:
        row = next(line for line in table.splitlines() if line.startswith(f"{host.name} "))
        assert "diskCleanup,persistentJournal,swapfile(refused),watchdog(refused)" in row, table
    stored = json.loads(run("get", "hosts", fleet.hosts[0].name, "-o", "json").out)["status"]["features"]
    assert {f["feature"]: f["reason"] for f in stored} == {
        "diskCleanup": "Applied", "persistentJournal": "Applied", "swapfile": "RefusedByHost",
        "watchdog": "RefusedByHost"}
    assert "swapon failed: Invalid argument" in next(f["message"] for f in stored if f["feature"] == "swapfile")

    refusals = [e for e in json.loads(run("get", "events", "-o", "json").out)["items"] if e["reason"] == "StepRefused"]
    for host in fleet.hosts:  # swapon, sysctl -p and modprobe: each once per host
        mine = sorted(e["message"].split(":", 2)[1].strip() for e in refusals if e["object"].endswith(f"/{host.name}"))
        assert mine == [f"activate swap file {SWAPFILE}", f"load {SWAP_SYSCTL} into the running kernel",
                        "load the softdog module"], refusals
    files = [*MANAGED, "/etc/fstab"]
    stamps = {h.name: _stamps(h, files) for h in fleet.hosts}

    second = run("apply", "-f", str(spec), "-o", "json")
    assert second.code == 0, second.err
    for host in fleet.hosts:
        view = host_views(second)[host.name]
        assert view["status"] == "unchanged", view
        assert all("results" not in f and f["steps"] == [] for f in view["features"]), view  # no step ran
        assert {n: f["state"] for n, f in _features(view).items()} == {
            "diskCleanup": "in-sync", "persistentJournal": "in-sync", "swapfile": "refused", "watchdog": "refused"}
        assert _stamps(host, files) == stamps[host.name]
    again = run("diff", "-f", str(spec))
    assert again.code == 0, again.out
    assert all(f"{h.name}: in sync" in again.out for h in fleet.hosts)
    assert again.out.count("refused by the host earlier") == 3 * len(fleet.hosts)
    events = json.loads(run("get", "events", "-o", "json").out)["items"]
    assert sum(e["reason"] == "StepRefused" for e in events) == 3 * len(fleet.hosts)  # not once per pass
    assert sum(e["reason"] == "Converged" for e in events) == len(fleet.hosts)


def test_false_removes_exactly_what_axis_added(fleet, axis, specs, pristine):
    """host 1 has a journal directory of its own (Debian's), the others get one from axis; each
    has someone else's fstab line, sysctl, modules-load, systemd and cron files beside axis's."""
    run = fleet_axis(fleet, axis)
    own_journal = fleet.hosts[0]
    own_journal.exec(f"mkdir -p {JOURNAL_DIR} && systemd-tmpfiles --create --prefix {JOURNAL_DIR} "
                     "&& systemctl restart systemd-journald")
    before = {}
    for host in fleet.hosts:
        host.exec("cat >> /etc/fstab", input=FOREIGN_FSTAB)
        for path, text in FOREIGN.items():
            host.exec(f"mkdir -p {shlex.quote(path.rsplit('/', 1)[0])} && cat > {shlex.quote(path)}", input=text)
        before[host.name] = (_cat(host, "/etc/fstab"), _listing(host))

    on = specs({"hosts.yaml": host_specs(fleet, features=FEATURES)})
    applied = run("apply", "-f", str(on), "-o", "json")
    assert applied.code == 0, applied.out + applied.err
    assert _features(host_views(applied)[own_journal.name])["persistentJournal"]["state"] == "in-sync"
    assert not _exists(own_journal, JOURNAL_MARKER)
    for host in fleet.hosts:
        fstab = _cat(host, "/etc/fstab")
        assert fstab.count(f"{SWAPFILE} none swap") == 1 and FOREIGN_FSTAB in fstab
        assert all(_exists(host, p) for p in MANAGED if (p != JOURNAL_MARKER or host is not own_journal))

    cron = fleet.hosts[1]  # the daily job as cron runs it: it starts its log, axis's file too
    cron.exec("run-parts --regex '^axis-' /etc/cron.daily")
    log = _cat(cron, LOG_PATH)
    assert log.startswith("# managed by axis: diskCleanup log") and "@@axis:clean " in log, log
    assert "retention_days=5 deep_at_percent=90" in log

    off = specs({"hosts.yaml": host_specs(fleet, features=OFF)})
    diff = run("diff", "-f", str(off))
    assert diff.code == 2, diff.out
    assert diff.out.count(f"  - diskCleanup: remove {LOG_PATH} (disk clean-up log)\n") == 1
    for step in (f"- diskCleanup: remove {SCRIPT_PATH} (daily disk clean-up)",
                 f"- swapfile: remove swap file {SWAPFILE} (axis made it)",
                 "~ swapfile: update /etc/fstab (drop axis's swap line)",
                 f"- swapfile: remove {SWAP_SYSCTL} (vm.swappiness)",
                 f"- swapfile: remove {SWAP_MARKER} (the swap file axis made)",
                 f"- watchdog: remove {MODULES} (softdog at boot)",
                 f"- watchdog: remove {SYSTEM} (systemd watchdog)",
                 "~ watchdog: re-execute systemd to apply the watchdog settings  [live]"):
        assert diff.out.count(f"  {step}\n") == len(fleet.hosts), (step, diff.out)
    removes_journal = f"- persistentJournal: remove {JOURNAL_DIR} (axis created it; its journal files go too)"
    assert diff.out.count(removes_journal) == len(fleet.hosts) - 1
    assert f"{own_journal.name}: 8 change(s)" in diff.out
    assert f"{cron.name}: 12 change(s)" in diff.out and f"{fleet.hosts[2].name}: 11 change(s)" in diff.out

    removed = run("apply", "-f", str(off), "-o", "json")
    assert removed.code == 0, removed.out + removed.err
    assert all(v["status"] == "changed" for v in host_views(removed).values())
    for host in fleet.hosts:
        fstab, listing = before[host.name]
        assert _cat(host, "/etc/fstab") == fstab  # the foreign line and the rest, byte for byte
        for path, text in FOREIGN.items():
            assert _cat(host, path) == text
        assert not any(_exists(host, p) for p in (*MANAGED, LOG_PATH))
        assert _exists(host, JOURNAL_DIR) == (host is own_journal)
        assert _runtime_watchdog(host) == "0"  # re-executed without axis's drop-in
        # nothing else axis wrote is left behind; only its (now empty) state directory stays
        assert _listing(host) == listing | {"/var/lib/axis"}
    again = run("diff", "-f", str(off))
    assert again.code == 0, again.out
    assert f"{own_journal.name}: in sync" in again.out
    rerun = run("apply", "-f", str(off), "-o", "json")
    assert rerun.code == 0 and all(v["status"] == "unchanged" for v in host_views(rerun).values())


def _listing(host) -> set[str]:
    """The paths in every directory the features write to (others' files included), and /swapfile."""
    dirs = "/etc/sysctl.d /etc/modules-load.d /etc/systemd/system.conf.d /etc/cron.daily /var/lib/axis /var/log"
    return set(host.exec(f"ls -d {SWAPFILE}* 2>/dev/null; find {dirs} -maxdepth 1 2>/dev/null; true").stdout.split())


def test_drift_is_found_and_repaired(fleet, axis, specs, pristine):
    run = fleet_axis(fleet, axis)
    spec = specs({"hosts.yaml": host_specs(fleet, features=FEATURES)})
    assert run("apply", "-f", str(spec)).code == 0
    wanted = {h.name: {p: _cat(h, p) for p in (SCRIPT_PATH, SWAP_SYSCTL, MODULES, SYSTEM, "/etc/fstab")}
              for h in fleet.hosts}
    cron_gone, fstab_cut, edited = fleet.hosts
    cron_gone.exec(f"rm {SCRIPT_PATH} {SWAPFILE}")
    fstab_cut.exec("sed -i '/swapfile/d' /etc/fstab")  # axis's comment and its line
    edited.exec(f"rm {MODULES} && sed -i 's/=20s/=99s/' {SYSTEM} && echo 'vm.swappiness = 60' >> {SWAP_SYSCTL}")

    diff = run("diff", "-f", str(spec))
    assert diff.code == 2, diff.out
    out = diff.out
    assert f"{cron_gone.name}: 2 change(s)" in out
    assert f"  + diskCleanup: create {SCRIPT_PATH} (daily disk clean-up, retention 5d, deep tier at 90%)" in out
    assert f"  + swapfile: create swap file {SWAPFILE} (64Mi)" in out
    assert f"{fstab_cut.name}: 1 change(s)\n  ~ swapfile: update /etc/fstab (swap line for {SWAPFILE})" in out
    assert f"{edited.name}: 4 change(s)" in out
    for step in (f"+ watchdog: create {MODULES} (softdog at boot)",
                 f"~ watchdog: update {SYSTEM} (RuntimeWatchdogSec=20s)",
                 "~ watchdog: re-execute systemd to apply the watchdog settings  [live]",
                 f"~ swapfile: update {SWAP_SYSCTL} (vm.swappiness = 20)"):
        assert f"  {step}\n" in out, (step, out)
    assert "      -RuntimeWatchdogSec=99s\n      +RuntimeWatchdogSec=20s" in out
    # steps the host refused stay remembered: the drift does not bring swapon/sysctl/modprobe back
    assert out.count("  ~ swapfile: activate swap file") == 0 and out.count("  ~ watchdog: load the softdog") == 0

    repaired = run("apply", "-f", str(spec), "-o", "json")
    assert repaired.code == 0, repaired.out + repaired.err
    assert {n: v["status"] for n, v in host_views(repaired).items()} == {h.name: "changed" for h in fleet.hosts}
    for host in fleet.hosts:
        assert {p: _cat(host, p) for p in wanted[host.name]} == wanted[host.name]
        assert host.exec(f"stat -c '%s %a' {SCRIPT_PATH} {SWAPFILE}").stdout == (
            f"{len(render_cleanup(CLEANUP).encode())} 755\n67108864 600\n")
    assert _runtime_watchdog(edited) == "20s"
    assert run("diff", "-f", str(spec)).code == 0


def test_swap_line_deleted_by_hand_is_put_back_under_the_one_comment(fleet, axis, specs, pristine):
    """Someone deletes axis's fstab line but leaves its comment: the repair puts the line back
    under a single comment (not a second comment), and `false` then leaves fstab as it was."""
    run = fleet_axis(fleet, axis)
    host = fleet.hosts[0]
    original = pristine[host.name]
    on = specs({"hosts.yaml": host_specs(fleet, hosts=[host], features="{swapfile: {size: 64M}}")})
    assert run("apply", "-f", str(on)).code == 0
    axis_lines = f"{FSTAB_MARK}\n{SWAPFILE} none swap sw 0 0\n"
    assert _cat(host, "/etc/fstab") == original + axis_lines

    host.exec(f"sed -i '\\|^{SWAPFILE} |d' /etc/fstab")
    assert _cat(host, "/etc/fstab") == original + f"{FSTAB_MARK}\n"
    diff = run("diff", "-f", str(on))
    assert diff.code == 2 and f"{host.name}: 1 change(s)\n  ~ swapfile: update /etc/fstab" in diff.out, diff.out
    assert run("apply", "-f", str(on)).code == 0
    assert _cat(host, "/etc/fstab") == original + axis_lines  # one comment, one line under it
    assert run("diff", "-f", str(on)).code == 0

    off = specs({"hosts.yaml": host_specs(fleet, hosts=[host], features="{swapfile: false}")})
    assert run("apply", "-f", str(off)).code == 0
    assert _cat(host, "/etc/fstab") == original
    assert run("diff", "-f", str(off)).code == 0
