"""Claims through the real CLI: apply binds, place ranks, get claims/leases, renew, release, exec."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from axis.state import Database
from axis.state.facts import Observation, store_observations
from tests.claimkit import facts, nightly_claims
from tests.fake_transport import FakeConnector, FakeTransport, job_starts, script_job

SPECS = {
    "hosts.yaml": """
        apiVersion: axis/v1
        kind: Host
        metadata: {name: ubu-1, labels: {role: worker}}
        spec: {address: ubu-1.lan}
        ---
        apiVersion: axis/v1
        kind: Host
        metadata: {name: gpu-1, labels: {role: gpu}}
        spec: {address: gpu-1.lan}
        ---
        apiVersion: axis/v1
        kind: Host
        metadata: {name: mini}
        spec: {address: mini.lan, fanout: false}
    """,
    "claims.yaml": nightly_claims("17Gi"),
}


def _observe(state_db: Path | str, hosts: dict[str, dict | None]) -> None:  # type: ignore[type-arg]
    db = Database(state_db)
    with db.write() as session:
        store_observations(session, [Observation(name, "complete" if data else "unreachable",
                                                 "" if data else f"{name}: unreachable: refused", data, 1.0)
                                     for name, data in hosts.items()])
    db.close()


@pytest.fixture
def fleet(axis, specs, state_db):  # type: ignore[no-untyped-def]
    """Hosts and claims applied without SSH, then facts as if `axis status` had run."""
    root = specs(SPECS)
    assert axis("apply", "--no-converge", "-f", str(root)).code == 0
    _observe(state_db, {"ubu-1": facts(total_gib=30, tools=("git", "docker")),
                        "gpu-1": facts(total_gib=30, gpu="RTX 4090", tools=("git", "ollama"), hostname="gpu-1"),
                        "mini": facts(total_gib=16)})
    return root


def _bind(axis, root: Path, *args: str):  # type: ignore[no-untyped-def]
    """A converging apply of the claims file alone: it binds pending claims on the stored facts and
    contacts no host (the file names none). `apply --no-converge` stores only and binds nothing."""
    return axis("apply", "-f", str(root / "claims.yaml"), *args)


def _claims(axis) -> dict[str, dict]:  # type: ignore[no-untyped-def, type-arg]
    doc = json.loads(axis("get", "claims", "-o", "json").out)
    return {item["metadata"]["name"]: item["status"] for item in doc["items"]}


def test_apply_leaves_claims_pending_until_hosts_are_observed_then_binds_them(axis, specs, state_db):
    root = specs(SPECS)
    assert "claim/job-a created" in axis("apply", "--no-converge", "-f", str(root)).out
    r = _bind(axis, root)
    assert "claim/job-a pending: no host fits: gpu-1, mini, ubu-1: never observed: no facts yet" in r.err
    assert "claim/job-a unchanged" in r.out and "pending" not in r.out  # stdout stays the object list
    status = _claims(axis)["job-a"]
    assert status["phase"] == "Pending" and status["host"] is None and status["memory"] == "17.0Gi"
    _observe(state_db, {"ubu-1": facts(total_gib=30), "gpu-1": facts(total_gib=30), "mini": facts()})
    r = _bind(axis, root, "-o", "json")
    placed = {c["claim"]: c for c in json.loads(r.out)["claims"]}
    assert {placed["job-a"]["host"], placed["job-b"]["host"]} == {"ubu-1", "gpu-1"}  # never both on one host


def test_dry_run_binds_nothing(axis, specs, state_db):
    root = specs(SPECS)
    axis("apply", "--no-converge", "-f", str(root))
    _observe(state_db, {"ubu-1": facts(total_gib=30)})
    axis("apply", "--no-converge", "--dry-run", "-f", str(root))
    assert axis("get", "leases").err.strip() == "No leases found."


def test_get_claims_and_leases_tables(axis, fleet):
    _bind(axis, fleet)
    lines = axis("get", "claims").out.splitlines()
    assert lines[0].split() == ["NAME", "PHASE", "HOST", "MEMORY", "EXPIRES", "REASON"]
    rows = {line.split()[0]: line.split()[1:5] for line in lines[1:]}
    assert rows["job-a"] == ["Bound", "gpu-1", "17.0Gi", "in"]  # hosts tie on every key but the name
    assert rows["job-b"] == ["Bound", "ubu-1", "17.0Gi", "in"]
    leases = axis("get", "leases").out.splitlines()
    assert leases[0].split() == ["CLAIM", "HOST", "MEMORY", "GPU", "ACQUIRED", "RENEWED", "EXPIRES"]
    assert [line.split()[:3] for line in leases[1:]] == [["job-a", "gpu-1", "17.0Gi"], ["job-b", "ubu-1", "17.0Gi"]]
    one = json.loads(axis("get", "leases", "job-a", "-o", "json").out)
    assert one["claim"] == "job-a" and one["expiresIn"] == "in 1h"


def test_describe_claim_shows_its_placement(axis, fleet):
    _bind(axis, fleet)
    out = axis("describe", "claim", "job-a").out
    fields = {line.split(":", 1)[0]: line.split(":", 1)[1].strip() for line in out.splitlines()
              if line[:1].isalpha() and ":" in line}
    assert fields["Phase"] == "Bound" and fields["Host"] == "gpu-1" and fields["Memory"] == "17.0Gi"
    assert fields["Expires"] == "in 1h" and "Reason" not in fields
    assert "Bound" in out.split("Events:")[1]


def test_place_ranks_hosts_with_reasons_and_takes_no_lease(axis, fleet):
    r = axis("place", "run ollama inference on a 7b model")
    assert r.code == 0, r.err
    assert r.out.splitlines()[0].startswith("best: gpu-1 (fit ")
    rejected = {line.split()[0]: line.split(None, 1)[1].strip() for line in r.out.split("REJECTED")[1].splitlines()[1:]}
    assert rejected == {"mini": "fanout: false (left out of placement); missing tool ollama",
                        "ubu-1": "missing tool ollama"}
    assert axis("get", "leases").err.strip() == "No leases found."
    doc = json.loads(axis("place", "run ollama inference on a 7b model", "-o", "json").out)
    assert doc["best"] == "gpu-1" and doc["needs"]["memory"] == "5.0Gi" and doc["needs"]["gpuWanted"]
    assert doc["ranked"][0]["terms"]["gpu"]["points"] == 25
    assert {r["host"]: r["reasons"] for r in doc["rejected"]} == {
        "mini": ["fanout: false (left out of placement)", "missing tool ollama"],
        "ubu-1": ["missing tool ollama"]}


def test_place_exits_3_when_no_host_fits_in_every_output(axis, fleet):
    """"No host fits" is its own exit code (axis.cli.place_cmd.EXIT_NO_HOST_FITS), not 0 nor 1."""
    task = "cargo build the rust crate"  # no host has cargo
    r = axis("place", task)
    assert (r.code, r.out.splitlines()[0]) == (3, f"no host fits: {task}"), r.err
    assert "REJECTED" in r.out and r.err == ""
    doc = axis("place", task, "-o", "json")
    assert doc.code == 3 and json.loads(doc.out)["best"] is None
    assert axis("place", task, "-o", "yaml").code == 3
    assert axis("place", "--context", task).code == 3
    assert axis("place", "--explain", "run ollama inference on a 7b model").code == 0


def test_place_explain_and_context(axis, fleet):
    out = axis("place", "--explain", "docker build the web image").out
    assert 'tools: docker ← "docker"' in out and 'memory: 1.0Gi ← "build"' in out
    assert "ubu-1: " in out and "pressure 25 (memory pressure none)" in out
    context = axis("place", "--context", "analyze the git repo").out.splitlines()
    assert context[0] == "# axis placement context"
    assert context[2].startswith("best node: ")
    assert any(line.startswith("RAM: ") and "allocatable" in line for line in context)
    assert any(line.startswith("tools: ") and "git" in line for line in context)
    assert any(line.startswith("summary: 2 of 3 hosts eligible") for line in context)


def test_renew_and_release(axis, fleet):
    _bind(axis, fleet)
    r = axis("renew", "job-b", "--ttl", "10m")
    assert r.code == 0 and r.out.strip() == "claim/job-b bound to ubu-1 (17.0Gi), expires in 10m"
    r = axis("release", "job-b")
    assert r.out.strip() == "claim/job-b released (17.0Gi on ubu-1 freed)"
    assert _claims(axis)["job-b"]["phase"] == "Released"
    _bind(axis, fleet)
    assert _claims(axis)["job-b"]["phase"] == "Released"  # not re-bound by the next pass
    assert axis("release", "job-b").err.strip() == "error: claim 'job-b' holds no lease"
    assert axis("renew", "job-b").out.startswith("claim/job-b bound to ubu-1")
    assert axis("renew", "job-b", "--ttl", "soon").err.strip().startswith("error: --ttl: invalid duration 'soon'")
    assert axis("renew", "nope").err.strip() == "error: claim 'nope' not found"


def test_exec_refuses_an_unbound_claim_with_exit_125(axis, fleet):
    r = axis("exec", "job-a", "--", "echo", "hi")
    assert r.code == 125
    assert r.err.startswith("error: claim 'job-a' is not bound (Pending")


def test_exec_runs_on_the_bound_host_and_returns_the_exit_code(axis, fleet):
    _bind(axis, fleet)
    fake = script_job(FakeTransport(name="gpu-1"), "a b $HOME\n", exit_status=7)

    axis.connector = connector = FakeConnector({"gpu-1": fake})
    r = axis("exec", "job-a", "--force", "--", "echo", "a b", "$HOME")
    assert (r.code, r.out) == (7, "a b $HOME\n"), r.err
    assert connector.connected == ["gpu-1"]
    # arguments quoted, never re-split by the shell: the job's line, one argument of the runner
    assert [args[-1] for args in job_starts(fake)] == ["echo 'a b' '$HOME'"]


def test_claim_memory_is_shown_for_pending_claims_from_inference(axis, specs):
    root = specs({"c.yaml": """
        apiVersion: axis/v1
        kind: Claim
        metadata: {name: big-model}
        spec: {task: run a 70b model}
    """})
    axis("apply", "-f", str(root))  # converging, but the file names no host to contact
    status = _claims(axis)["big-model"]
    assert (status["phase"], status["memory"]) == ("Pending", "40.0Gi")  # inferred from "70b"
    assert status["reason"] == "no hosts in the desired state"
