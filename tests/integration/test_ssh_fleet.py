"""Seeing the fleet over real SSH: facts from every host in one pass, dead hosts reported alone,
host keys verified, `axis on` fan-out with timeouts, hostile spec data never executed."""

from __future__ import annotations

import json
import time

import pytest

from tests.integration.fleetspecs import fleet_axis, host_specs, host_views

pytestmark = pytest.mark.hosts


def _status(run) -> dict:
    r = run("status", "-o", "json")
    assert r.code == 0, r.err
    return host_views(r)


def test_facts_from_three_hosts_in_one_pass(fleet, axis, specs):
    run = fleet_axis(fleet, axis)
    assert run("apply", "--no-converge", "-f", str(specs({"hosts.yaml": host_specs(fleet)}))).code == 0
    started = time.monotonic()
    hosts = _status(run)
    elapsed = time.monotonic() - started
    assert sorted(hosts) == sorted(h.name for h in fleet.hosts)
    for host in fleet.hosts:
        view = hosts[host.name]
        assert view["status"] == "complete", view["reason"]
        facts = view["facts"]
        assert facts["hostname"] == host.name  # each host's own UTS namespace
        assert facts["os"]["family"] == "linux" and facts["os"]["distro"] == "debian"
        assert facts["memory"]["total_bytes"] > 0 and facts["root_disk"]["size_bytes"] > 0
        assert facts["sudo"]["is_root"] is True
        assert facts["tools"]["python3"]
        assert any(a["address"] == host.address for a in facts["addresses"])
    print(f"\nfacts from {len(hosts)} hosts: {elapsed:.2f}s")
    wide = run("get", "hosts", "-o", "wide").out
    assert all(f"{h.name} " in wide for h in fleet.hosts) and "complete" in wide
    cached = json.loads(run("status", "--cached", "-o", "json").out)
    assert cached["totals"]["reachable"] == len(fleet.hosts)


def test_stopped_sshd_is_unreachable_while_others_complete(fleet, axis, specs):
    run = fleet_axis(fleet, axis)
    run("apply", "--no-converge", "-f", str(specs({"hosts.yaml": host_specs(fleet)})))
    dead = fleet.hosts[1]
    _status(run)  # one good pass first, so the cached view has facts to fall back on
    dead.stop_sshd()
    try:
        hosts = _status(run)
    finally:
        dead.heal()
    assert hosts[dead.name]["status"] == "unreachable"
    assert "connection refused" in hosts[dead.name]["reason"]
    assert all(hosts[h.name]["status"] == "complete" for h in fleet.hosts if h is not dead)
    # the cached view still shows the dead host's last good facts and says how old they are
    cached = json.loads(run("status", "--cached", "-o", "json").out)
    row = next(h for h in cached["hosts"] if h["name"] == dead.name)
    assert row["status"] == "unreachable" and row["facts"] is not None and row["factsAt"]


def test_changed_host_key_is_refused(fleet, axis, specs):
    run = fleet_axis(fleet, axis)
    run("apply", "--no-converge", "-f", str(specs({"hosts.yaml": host_specs(fleet)})))
    victim = fleet.hosts[0]
    victim.regenerate_host_keys()
    try:
        hosts = _status(run)
        on = run("on", victim.name, "--", "touch /tmp/should-not-run")
    finally:
        victim.heal()
    assert hosts[victim.name]["status"] == "error"
    assert "host key mismatch" in hosts[victim.name]["reason"]
    assert on.code != 0 and "host key mismatch" in on.err
    assert victim.exec("test -e /tmp/should-not-run", check=False).returncode != 0


def test_unknown_host_refused_when_strict_and_recorded_with_accept_new(fleet, axis, specs, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    run = fleet_axis(fleet, axis)
    run("apply", "--no-converge", "-f", str(specs({"hosts.yaml": host_specs(fleet)})))
    strict = run("--known-hosts", str(empty), "on", "all", "--", "true")
    assert strict.code != 0 and "host key unknown" in strict.err and "accept-new" in strict.err
    accept = run("--known-hosts", str(empty), "--host-key-policy", "accept-new", "on", "all", "--", "true")
    assert accept.code == 0, accept.err
    recorded = empty.read_text()
    assert all(h.address in recorded for h in fleet.hosts)
    again = run("--known-hosts", str(empty), "on", "all", "--", "true")  # now strict passes
    assert again.code == 0, again.err


def test_on_all_returns_each_hosts_own_hostname(fleet, axis, specs):
    run = fleet_axis(fleet, axis)
    run("apply", "--no-converge", "-f", str(specs({"hosts.yaml": host_specs(fleet)})))
    r = run("on", "all", "--", "hostname")
    assert r.code == 0, r.err
    lines = sorted(r.out.splitlines())
    assert lines == sorted(f"[{h.name}]".ljust(len(h.name) + 2) + f" {h.name}" for h in fleet.hosts)
    assert f"{len(fleet.hosts)}/{len(fleet.hosts)} hosts ok" in r.err
    # several arguments are passed exactly, not re-split by the remote shell
    r = run("on", fleet.hosts[0].name, "-o", "json", "--", "printf", "%s|", "a b", "$(id)")
    assert json.loads(r.out)[0]["stdout"] == "a b|$(id)|"


def test_on_exit_codes_and_timeout_kill(fleet, axis, specs):
    run = fleet_axis(fleet, axis)
    run("apply", "--no-converge", "-f", str(specs({"hosts.yaml": host_specs(fleet)})))
    host = fleet.hosts[0]
    failed = run("on", host.name, "--", "echo oops >&2; exit 3")
    assert failed.code == 3 and f"[{host.name}] oops" in failed.err
    started = time.monotonic()
    r = run("on", host.name, "--timeout", "2", "--", "sleep 120")
    assert r.code == 124 and "timed out" in r.err
    # the 2 s timeout cut the 120 s command short: half of it is room enough for a loaded CI machine
    assert time.monotonic() - started < 60
    time.sleep(0.5)
    assert host.exec("pgrep -x sleep", check=False).returncode != 0, "the remote sleep survived the timeout"


def test_fanout_false_is_left_out_of_all_but_runs_by_name(fleet, axis, specs):
    run = fleet_axis(fleet, axis)
    solo = fleet.hosts[2].name
    run("apply", "--no-converge", "-f", str(specs({"hosts.yaml": host_specs(fleet, fanout={solo: False})})))
    r = run("on", "all", "--", "hostname")
    assert solo not in r.out and r.code == 0
    assert f"[{solo}]" in run("on", solo, "--", "hostname").out


def test_hostile_spec_data_is_never_executed(fleet, axis, specs):
    """Description and labels carry shell metacharacters; nothing of them may run on a host."""
    run = fleet_axis(fleet, axis)
    hostile = "$(touch /tmp/pwned-desc); `touch /tmp/pwned-tick` \"' ; touch /tmp/pwned-semi"
    r = run("apply", "-f", str(specs({"hosts.yaml": host_specs(fleet, description=hostile,
                                                             features="{panicRecovery: {panicSeconds: 7}}")})))
    assert "pwned" not in r.err
    run("status")
    run("on", "all", "--", "true")
    for host in fleet.hosts:
        found = host.exec("ls /tmp | grep pwned || true").stdout.strip()
        assert found == "", f"{host.name}: spec data was executed: {found}"
    described = json.loads(run("get", "hosts", fleet.hosts[0].name, "-o", "json").out)
    assert described["spec"]["description"] == hostile


def test_proxyjump_from_ssh_config(fleet, axis, specs, tmp_path):
    """A host reached only through another one, as ~/.ssh/config's ProxyJump says."""
    first, target = fleet.hosts[0], fleet.hosts[1]
    config = tmp_path / "ssh_config"
    config.write_text(fleet.ssh_config.read_text() + (
        f"\nHost via-jump\n    HostName {target.address}\n    ProxyJump {first.name}\n    User root\n"
        f"    IdentityFile {fleet.identity}\n    IdentitiesOnly yes\n    UserKnownHostsFile {fleet.known_hosts}\n"))
    spec = specs({"hosts.yaml": "apiVersion: axis/v1\nkind: Host\nmetadata: {name: jumped}\nspec: {address: via-jump}\n"})
    assert axis("--ssh-config", str(config), "apply", "--no-converge", "-f", str(spec)).code == 0
    r = axis("--ssh-config", str(config), "on", "jumped", "--", "hostname; echo $SSH_CONNECTION")
    assert r.code == 0, r.err
    lines = [line.split(" ", 1)[1].strip() for line in r.out.splitlines()]
    assert lines[0] == target.name
    assert lines[1].split()[0] == first.address  # the connection came from the jump host
