"""Converging real hosts: first apply changes, second changes nothing, refused kernel steps are
reported once, drift is found and repaired, `false` removes exactly what axis wrote, sudo rules."""

from __future__ import annotations

import json

import pytest

from axis.drivers.features.panic_recovery import PATH as PANIC_CONF
from tests.integration.fleetspecs import fleet_axis, host_specs, host_views
from tests.integration.hostreset import hosts_reset

pytestmark = pytest.mark.hosts


@pytest.fixture
def clean_panic(fleet):
    """Every test starts and ends without the file, so tests do not depend on their order."""
    with hosts_reset(fleet, f"rm -f {PANIC_CONF} /etc/sysctl.d/99-someone-else.conf"):
        yield


def test_first_apply_converges_second_changes_nothing(fleet, axis, specs, clean_panic):
    run = fleet_axis(fleet, axis)
    spec = specs({"hosts.yaml": host_specs(fleet, features="{panicRecovery: {panicSeconds: 7}}")})
    diff = run("diff", "-f", str(spec))
    assert diff.code == 2, diff.err
    assert f"+ panicRecovery: create {PANIC_CONF} (kernel.panic = 7)" in diff.out

    first = run("apply", "-f", str(spec), "-o", "json")
    assert first.code == 0, first.err
    for host in fleet.hosts:
        assert host.exec(f"cat {PANIC_CONF}").stdout.splitlines()[1:] == ["kernel.panic = 7", "vm.panic_on_oom = 0"]
        view = host_views(first)[host.name]
        assert view["status"] == "changed"
        feature = view["features"][0]
        # the namespaced kernel refuses sysctl: reported with the host's own words, files in place
        assert feature["state"] == "refused"
        assert "permission denied" in feature["message"] or "Read-only" in feature["message"], feature
    inode = {h.name: h.exec(f"stat -c '%i %Y' {PANIC_CONF}").stdout for h in fleet.hosts}

    second = run("apply", "-f", str(spec), "-o", "json")
    assert second.code == 0, second.err
    for host in fleet.hosts:
        view = host_views(second)[host.name]
        assert view["status"] == "unchanged", view
        assert all("results" not in f for f in view["features"])  # no step ran at all
        assert host.exec(f"stat -c '%i %Y' {PANIC_CONF}").stdout == inode[host.name]
    assert run("diff", "-f", str(spec)).code == 0
    events = run("get", "events", "-o", "json").out
    assert json.loads(events)["items"] and events.count("StepRefused") == len(fleet.hosts)
    wide = run("get", "hosts").out
    assert "panicRecovery(refused)" in wide
    view = json.loads(run("get", "hosts", fleet.hosts[0].name, "-o", "json").out)
    conditions = {c["type"]: c for c in view["status"]["conditions"]}
    assert conditions["Reachable"]["status"] == "True"
    assert (conditions["Converged"]["status"], conditions["Converged"]["reason"]) == ("True", "InSyncWithRefusals")
    assert conditions["Ready"]["status"] == "True" and view["status"]["observedGeneration"] == 1


def test_drift_is_found_and_repaired(fleet, axis, specs, clean_panic):
    run = fleet_axis(fleet, axis)
    spec = specs({"hosts.yaml": host_specs(fleet, features="{panicRecovery: {panicSeconds: 9}}")})
    assert run("apply", "-f", str(spec)).code == 0
    victim = fleet.hosts[0]
    victim.exec(f"rm {PANIC_CONF}")
    diff = run("diff", "-f", str(spec))
    assert diff.code == 2 and f"{victim.name}: 1 change(s)" in diff.out
    assert all(f"{h.name}: in sync" in diff.out for h in fleet.hosts[1:])
    # the same plan as a document and as a PR comment, from one observation (--out)
    saved = spec.parent / "plan.json"
    comment = run("diff", "-f", str(spec), "-o", "markdown", "--out", str(saved))
    assert comment.code == 2, comment.err
    plan = json.loads(saved.read_text())
    assert (plan["formatVersion"], plan["kind"]) == (1, "Plan")
    assert plan["summary"] == {"hosts": len(fleet.hosts), "toChange": 1, "inSync": len(fleet.hosts) - 1,
                               "unreachable": 0, "failed": 0, "steps": 1}
    [step] = next(h for h in plan["hosts"] if h["host"] == victim.name)["steps"]
    assert (step["feature"], step["action"], step["target"]) == ("panicRecovery", "add", PANIC_CONF)
    assert step["summary"] == f"create {PANIC_CONF} (kernel.panic = 9)" and step["diff"] is None  # a new file
    assert "1 to change" in comment.out and f"<code>{victim.name}</code>: 1 step(s)" in comment.out
    assert f"`+` `panicRecovery` `create {PANIC_CONF} (kernel.panic = 9)`" in comment.out
    assert json.loads(run("diff", "-f", str(spec), "-o", "json").out)["summary"]["toChange"] == 1
    assert run("apply", "-f", str(spec)).code == 0
    assert "kernel.panic = 9" in victim.exec(f"cat {PANIC_CONF}").stdout


def test_false_removes_only_what_axis_wrote(fleet, axis, specs, clean_panic):
    run = fleet_axis(fleet, axis)
    host = fleet.hosts[0]
    on = specs({"hosts.yaml": host_specs(fleet, hosts=[host], features="{panicRecovery: {}}")})
    assert run("apply", "-f", str(on)).code == 0
    host.exec("echo 'kernel.panic = 3' > /etc/sysctl.d/99-someone-else.conf")
    off = specs({"hosts.yaml": host_specs(fleet, hosts=[host], features="{panicRecovery: false}")})
    diff = run("diff", "-f", str(off))
    assert diff.code == 2 and f"- panicRecovery: remove {PANIC_CONF}" in diff.out
    assert run("apply", "-f", str(off)).code == 0
    assert host.exec(f"test -e {PANIC_CONF}", check=False).returncode == 1
    assert host.exec("cat /etc/sysctl.d/99-someone-else.conf").stdout == "kernel.panic = 3\n"
    assert run("diff", "-f", str(off)).code == 0


def test_dead_host_fails_alone(fleet, axis, specs, clean_panic):
    run = fleet_axis(fleet, axis)
    dead = fleet.hosts[1]
    spec = specs({"hosts.yaml": host_specs(fleet, features="{panicRecovery: {}}")})
    dead.stop_sshd()
    r = run("apply", "-f", str(spec), "-o", "json")
    assert r.code == 1
    hosts = host_views(r)
    assert hosts[dead.name]["status"] == "failed" and "connection refused" in hosts[dead.name]["reason"]
    assert all(hosts[h.name]["status"] == "changed" for h in fleet.hosts if h is not dead)
    assert run("diff", "-f", str(spec)).code == 1  # an unobservable host is an error for CI
    plan = run("diff", "-f", str(spec), "-o", "json")
    assert plan.code == 1, plan.err  # the same exit code whatever -o says
    down_plan = next(h for h in json.loads(plan.out)["hosts"] if h["host"] == dead.name)
    assert down_plan["status"] == "unreachable" and "connection refused" in down_plan["reason"]
    assert json.loads(plan.out)["summary"]["unreachable"] == 1
    down = {c["type"]: c for c in json.loads(run("get", "hosts", dead.name, "-o", "json").out)["status"]["conditions"]}
    assert (down["Reachable"]["status"], down["Reachable"]["reason"]) == ("False", "Unreachable")
    assert down["Converged"]["status"] == "Unknown" and down["Ready"]["status"] == "False"
    dead.heal()
    assert run("apply", "-f", str(spec)).code == 0
    assert "kernel.panic" in dead.exec(f"cat {PANIC_CONF}").stdout


def test_sudo_passwordless_user_and_password_user(fleet, axis, specs, clean_panic):
    run = fleet_axis(fleet, axis)
    host = fleet.hosts[0]
    ops = specs({"hosts.yaml": host_specs(fleet, hosts=[host], user="ops", sudo=True, features="{panicRecovery: {}}")})
    r = run("apply", "-f", str(ops))
    assert r.code == 0, r.out + r.err
    assert host.exec(f"stat -c %U {PANIC_CONF}").stdout.strip() == "root"
    host.exec(f"rm -f {PANIC_CONF}")
    pw = specs({"hosts.yaml": host_specs(fleet, hosts=[host], user="pw", sudo=True, features="{panicRecovery: {}}")})
    r = run("apply", "-f", str(pw), "-o", "json")
    assert r.code == 1
    assert "sudo needs a password" in host_views(r)[host.name]["reason"]
    assert host.exec(f"test -e {PANIC_CONF}", check=False).returncode == 1
