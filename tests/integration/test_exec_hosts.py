"""`axis exec CLAIM -- CMD` on real hosts: `axis apply` stores the hosts' facts and binds the
claim; exec runs the command on the bound host, streams its output, returns its exit code, keeps
the lease renewed while a long command runs, and refuses (125) a claim that holds no lease."""

from __future__ import annotations

import json
import time
from datetime import datetime

import pytest

from tests.integration.fleetspecs import fleet_axis, host_specs

pytestmark = pytest.mark.hosts

CLAIMS = """
apiVersion: axis/v1
kind: Claim
metadata: {name: job}
spec:
  task: print a greeting
  requires: {memory: 128Mi, tools: []}
  ttl: 30s
---
apiVersion: axis/v1
kind: Claim
metadata: {name: huge}
spec:
  task: print a greeting
  requires: {memory: 100000Gi, tools: []}
"""


def _claims(run) -> dict:
    r = run("get", "claims", "-o", "json")
    assert r.code == 0, r.err
    return {c["metadata"]["name"]: c["status"] for c in json.loads(r.out)["items"]}


def _lease(run, claim: str) -> dict:
    r = run("get", "leases", claim, "-o", "json")
    assert r.code == 0, r.err
    return json.loads(r.out)


def _ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@pytest.fixture
def bound(fleet, axis, specs):
    """Hosts stored and observed by `axis apply` (facts), claim `job` bound; returns (run, host)."""
    run = fleet_axis(fleet, axis)
    applied = run("apply", "-f", str(specs({"hosts.yaml": host_specs(fleet), "claims.yaml": CLAIMS})), "-o", "json")
    assert applied.code == 0, applied.out + applied.err
    placed = {c["claim"]: c for c in json.loads(applied.out)["claims"]}
    assert placed["job"]["phase"] == "Bound", placed
    claims = _claims(run)
    assert claims["job"]["phase"] == "Bound" and claims["job"]["memory"] == "128.0Mi"
    host = next(h for h in fleet.hosts if h.name == claims["job"]["host"])
    assert claims["huge"]["phase"] == "Pending" and "not enough" in claims["huge"]["reason"], claims["huge"]
    return run, host


def test_exec_runs_on_the_bound_host_streams_output_and_returns_the_exit_code(bound):
    run, host = bound
    r = run("exec", "job", "--", "sh", "-c", "echo hi from $(hostname); echo oops >&2; exit 4")
    assert r.code == 4, r.err
    assert r.out == f"hi from {host.name}\n"
    assert r.err == "oops\n"
    ok = run("exec", "job", "--", "id -un; test -d /proc/1")  # one argument: the user's shell line
    assert (ok.code, ok.out) == (0, "root\n")


def test_exec_refuses_a_claim_without_a_lease(bound):
    run, _ = bound
    pending = run("exec", "huge", "--", "echo", "never")
    assert pending.code == 125 and pending.out == ""
    assert "error: claim 'huge' is not bound (Pending: no host fits" in pending.err, pending.err
    assert "`axis renew huge` binds it if a host fits" in pending.err
    assert run("release", "job").code == 0
    released = run("exec", "job", "--", "echo", "never")
    assert released.code == 125 and released.out == ""
    assert "error: claim 'job' is not bound (Released: released by `axis release`" in released.err, released.err
    missing = run("exec", "nope", "--", "true")
    assert missing.code == 125 and "claim 'nope' not found" in missing.err


def test_the_lease_is_renewed_while_a_long_command_runs(bound):
    """ttl 30s, renewed every 10s while the command runs; the command starts when only 5s of
    the lease are left, and sleeps 12s: it must still hold its lease when it ends."""
    run, host = bound
    assert run("renew", "job", "--ttl", "5s").code == 0
    before = _lease(run, "job")
    started = time.time()
    r = run("exec", "job", "--", "sh", "-c", "sleep 12; echo slept on $(hostname)")
    ended = time.time()
    assert r.code == 0, r.err
    assert r.out == f"slept on {host.name}\n"
    assert "ended while the command ran" not in r.err, r.err
    after = _lease(run, "job")
    assert after["host"] == host.name and after["acquired"] == before["acquired"]
    renewed, expires = _ts(after["renewed"]), _ts(after["expires"])
    assert renewed >= int(started) + 9, (before, after)  # renewed during the command, not only at its start
    assert expires == renewed + 30 and expires > ended + 15  # the claim's ttl from the last renewal
    assert _claims(run)["job"]["phase"] == "Bound"
    renewals = [e["message"] for e in json.loads(run("get", "events", "-o", "json").out)["items"]
                if e["object"] == "Claim/job" and e["reason"] == "Renewed"]
    # `axis renew --ttl 5s`, then exec: as the command starts, and every 10s while it runs
    assert renewals[0] == f"on {host.name} for 5s" and len(renewals) >= 3, renewals
    assert set(renewals[1:]) == {f"on {host.name} for 30s"}, renewals
