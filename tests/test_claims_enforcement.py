"""`requires.enforcement`: a claim that asks for a cgroup cap is placed only where the kernel
enforces it, and every other host is rejected with the host's own reason."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from axis.app.observed import summary
from axis.drivers.facts import Facts
from axis.placement.candidates import candidate
from axis.placement.infer import infer
from axis.placement.ledger import place_claims
from axis.placement.scorer import rank, static_reasons
from axis.specs import Host
from axis.specs.models import ClaimSpec
from axis.state import Database, leases
from axis.state.claims import get_status
from tests.claimkit import T0, claim, facts, host, store

SPEC_SAYS_NO_SUDO = "systemd-run needs root: the login user is not root and the Host's spec says sudo: false"
NO_MEMORY = "the cgroup v2 hierarchy has no memory controller (cgroup.controllers: empty)"


def _facts(mode: str | None, reason: str = "", **kwargs):  # type: ignore[no-untyped-def]
    data = facts(**kwargs)
    if mode is not None:
        data["memory_enforcement"] = {"mode": mode, "reason": reason}
    else:
        data["missing"] = {"memory_enforcement": "no 'memory_enforcement' section in the output"}
    return data


def test_the_spec_takes_cgroup_or_any_and_defaults_to_any():
    assert ClaimSpec(task="eval").requires.enforcement == "any"
    assert ClaimSpec.model_validate({"task": "eval", "requires": {"enforcement": "cgroup"}}).requires.enforcement == "cgroup"
    with pytest.raises(ValidationError, match="'cgroup' or 'any'"):
        ClaimSpec.model_validate({"task": "eval", "requires": {"enforcement": "watchdog"}})


def test_a_cgroup_claim_rejects_watchdog_and_unknown_hosts_with_their_reason():
    spec = ClaimSpec.model_validate({"task": "eval", "requires": {"enforcement": "cgroup", "memory": "1Gi"}})
    inference = infer(spec)
    assert inference.need.cgroup_cap and "enforcement: cgroup (requires.enforcement)" in inference.reasons
    hosts = [candidate(host("kernel"), "complete", "", _facts("cgroup", "systemd-run as root with a cgroup v2 memory controller")),
             candidate(host("sampled"), "complete", "", _facts("watchdog", NO_MEMORY)),
             candidate(host("old"), "complete", "", _facts(None))]
    placement = rank(inference.need, hosts)
    assert [r.host.name for r in placement.ranked] == ["kernel"]
    assert {r.host: r.reasons for r in placement.rejected} == {
        "sampled": (f"memory enforcement is watchdog ({NO_MEMORY}); the claim requires cgroup",),
        "old": ("memory enforcement is unknown (no 'memory_enforcement' section in the output); the claim requires cgroup",),
    }
    anywhere = infer(ClaimSpec(task="eval")).need
    assert not anywhere.cgroup_cap and all(not static_reasons(anywhere, h) for h in hosts)


def test_binding_honours_it(state_db: Path | str):
    db = Database(state_db)
    store(db, [host("sampled"), host("kernel"), claim("strict", requires={"enforcement": "cgroup"}), claim("loose")],
          {"sampled": _facts("watchdog", NO_MEMORY, total_gib=64), "kernel": _facts("cgroup", "as root", total_gib=8)})
    place_claims(db, now=T0)
    with db.read() as session:
        assert leases.find(session, "strict").host == "kernel"  # type: ignore[union-attr]
        assert leases.find(session, "loose").host == "sampled"  # type: ignore[union-attr]  # more room wins


def _sudo_host(name: str, sudo: bool) -> Host:
    return Host.model_validate({"apiVersion": "axis/v1", "kind": "Host", "metadata": {"name": name},
                                "spec": {"address": f"{name}.lan", "sudo": sudo}})


def _sudoer_facts(**kwargs):  # type: ignore[no-untyped-def]
    """A login that is not root but may `sudo -n`: the facts say cgroup (through sudo -n)."""
    data = _facts("cgroup", "systemd-run through sudo -n with a cgroup v2 memory controller", **kwargs)
    data["sudo"] = {"is_root": False, "passwordless": True, "user": "ops"}
    return data


def test_cgroup_through_sudo_counts_only_where_the_hosts_spec_allows_sudo(state_db: Path | str):
    """Found in review: the facts said cgroup for a login with passwordless sudo while the runner
    uses `sudo -n` only under `spec.sudo: true`, so a cgroup-only claim was placed on a host whose
    jobs then ran under the watchdog; `axis describe` said `Memory cap: cgroup` there too."""
    no_sudo = candidate(_sudo_host("nosudo", False), "complete", "", _sudoer_facts())
    assert (no_sudo.enforcement, no_sudo.enforcement_reason) == ("watchdog", SPEC_SAYS_NO_SUDO)
    assert candidate(_sudo_host("sudo", True), "complete", "", _sudoer_facts()).enforcement == "cgroup"
    as_root = {**_sudoer_facts(), "sudo": {"is_root": True}}
    assert candidate(_sudo_host("root", False), "complete", "", as_root).enforcement == "cgroup"

    db = Database(state_db)
    store(db, [_sudo_host("nosudo", False), claim("strict", requires={"enforcement": "cgroup"})],
          {"nosudo": _sudoer_facts(total_gib=64)})
    place_claims(db, now=T0)
    with db.read() as session:
        assert leases.find(session, "strict") is None
        status = get_status(session, "strict")
    assert status is not None and f"memory enforcement is watchdog ({SPEC_SAYS_NO_SUDO})" in status.reason

    facts_model = Facts.model_validate({"status": "complete", "collected_at": "2026-01-01T00:00:00Z",
                                        "sudo": {"is_root": False, "passwordless": True},
                                        "memory_enforcement": _sudoer_facts()["memory_enforcement"]})
    assert summary(facts_model, spec_sudo=False)["memoryEnforcement"] == f"watchdog ({SPEC_SAYS_NO_SUDO})"
    assert summary(facts_model, spec_sudo=True)["memoryEnforcement"].startswith("cgroup (systemd-run through sudo -n")
    assert summary(facts_model)["memoryEnforcement"].startswith("cgroup (")  # `axis facts` here: no Host spec applies
