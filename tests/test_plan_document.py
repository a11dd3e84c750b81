"""The plan document of `axis diff -o json|yaml`: its fields from dry-run outcomes, and its JSON
Schema, checked in at docs/plan-format.schema.json for CI tools, equal to the model's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from ruamel.yaml import YAML

from axis.app.plan_document import FORMAT_VERSION, PlanDocument, plan_data, plan_document, plan_schema
from axis.cli.output import Format, dump
from axis.drivers.transport import ErrorKind
from axis.reconcile.converge import HostOutcome
from tests.plankit import PANIC, PANIC_DIFF, down_host, dry_run, in_sync_host, pending_host

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "docs" / "plan-format.schema.json"
NOW = 1_800_000_000.0


def _fleet() -> dict:
    outcomes = [pending_host(), in_sync_host(), down_host(),
                down_host("mini", ErrorKind.AUTH, "permission denied (publickey)")]
    return plan_data(plan_document(dry_run(outcomes, warnings=["claim x: no host matches"]), NOW))


def test_the_document_has_the_version_the_summary_and_each_hosts_steps() -> None:
    doc = _fleet()
    assert (doc["formatVersion"], doc["kind"], doc["generatedAt"]) == (FORMAT_VERSION, "Plan", "2027-01-15T08:00:00Z")
    assert doc["summary"] == {"hosts": 4, "toChange": 1, "inSync": 1, "unreachable": 1, "failed": 1, "steps": 2}
    hosts = {h["host"]: h for h in doc["hosts"]}
    assert [h["host"] for h in doc["hosts"]] == ["ubu-1", "ubu-2", "ubu-3", "mini"]  # the outcomes' order
    pending = hosts["ubu-1"]
    assert (pending["status"], pending["reason"]) == ("pending", None)
    assert pending["steps"] == [
        {"feature": "panicRecovery", "action": "change", "summary": f"update {PANIC} (kernel.panic = 7)",
         "target": PANIC, "live": False, "diff": PANIC_DIFF},
        {"feature": "panicRecovery", "action": "add", "summary": "apply kernel.panic",
         "target": f"sysctl -p {PANIC}", "live": True, "diff": None},
    ]
    notes = {f["feature"]: f for f in pending["features"]}
    assert notes["swapfile"]["state"] == "refused"
    assert notes["swapfile"]["refused"] == [{"summary": "remove /swapfile", "target": "/swapfile",
                                             "hostMessage": "swapoff: Operation not permitted"}]
    assert (notes["noSleep"]["state"], notes["noSleep"]["message"]) == ("not-applicable", "macOS only")
    assert hosts["ubu-2"] == {"host": "ubu-2", "status": "in-sync", "reason": None, "steps": [],
                              "features": [{"feature": "earlyoom", "state": "in-sync", "message": "",
                                            "refused": []}]}
    # unreachable as the Reachable condition says: the address refused or did not answer
    assert (hosts["ubu-3"]["status"], hosts["ubu-3"]["reason"]) == ("unreachable",
                                                                    "ubu-3: unreachable: connection refused")
    assert hosts["mini"]["status"] == "failed" and "auth refused" in hosts["mini"]["reason"]
    assert doc["objects"][0] == {"kind": "Host", "name": "ubu-1", "action": "created"}
    assert doc["warnings"] == ["claim x: no host matches"]


def test_the_document_validates_against_the_checked_in_schema_in_json_and_yaml() -> None:
    doc = _fleet()
    validator = Draft202012Validator(json.loads(SCHEMA_FILE.read_text()))
    assert list(validator.iter_errors(doc)) == []
    assert json.loads(dump(doc, Format.json)) == doc
    assert YAML(typ="safe").load(dump(doc, Format.yaml)) == doc
    # and a document a CI tool holds reads back into the model
    assert plan_data(PlanDocument.model_validate(doc)) == doc


def test_the_checked_in_schema_is_the_models() -> None:
    rewrite = ("python -c 'import json; from axis.app.plan_document import plan_schema; "
               "print(json.dumps(plan_schema(), indent=2))' > docs/plan-format.schema.json")
    assert json.loads(SCHEMA_FILE.read_text()) == plan_schema(), f"the model changed; rewrite with: {rewrite}"


def test_the_schema_refuses_what_a_reader_of_version_1_could_not_read() -> None:
    validator = Draft202012Validator(plan_schema())
    doc = _fleet()
    assert list(validator.iter_errors({**doc, "formatVersion": 2}))
    step = doc["hosts"][0]["steps"][0]
    for broken in ({**step, "action": "+"}, {k: v for k, v in step.items() if k != "live"}):
        doc["hosts"][0]["steps"][0] = broken
        assert list(validator.iter_errors(doc)), broken
    # an added field keeps the version: readers ignore what they do not know
    doc["hosts"][0]["steps"][0] = {**step, "addedLater": 1}
    assert list(validator.iter_errors({**doc, "addedAtTheTop": True})) == []


def test_only_a_dry_run_makes_a_plan() -> None:
    with pytest.raises(ValueError, match="dry run"):
        plan_document(dry_run([HostOutcome("ubu-1", "changed")]), NOW)


def test_an_empty_plan_counts_nothing() -> None:
    doc = plan_data(plan_document(dry_run([]), NOW))
    assert doc["summary"] == {"hosts": 0, "toChange": 0, "inSync": 0, "unreachable": 0, "failed": 0, "steps": 0}
    assert doc["hosts"] == []


CLAIM = """apiVersion: axis/v1
kind: Claim
metadata: {name: nightly}
spec: {task: build the go services}
"""


def test_diff_of_specs_without_hosts_prints_an_empty_plan_and_writes_it_with_out(axis, specs, tmp_path) -> None:
    root = specs({"claims.yaml": CLAIM})
    saved = tmp_path / "plan.json"
    r = axis("diff", "-f", str(root), "-o", "yaml", "--out", str(saved))
    assert r.code == 0, r.err
    doc = YAML(typ="safe").load(r.out)
    assert doc["hosts"] == [] and doc["objects"] == [{"kind": "Claim", "name": "nightly", "action": "created"}]
    assert json.loads(saved.read_text())["objects"] == doc["objects"]
    assert axis("get", "claims", "-o", "json").out.count('"name"') == 0  # a plan stores nothing


def test_diff_says_when_it_cannot_write_the_plan_and_a_bad_spec_prints_no_plan(axis, specs, tmp_path) -> None:
    root = specs({"claims.yaml": CLAIM})
    r = axis("diff", "-f", str(root), "-o", "markdown", "--out", str(tmp_path / "missing" / "plan.json"))
    assert r.code == 1 and f"error: cannot write the plan to {tmp_path / 'missing' / 'plan.json'}" in r.err
    bad = specs({"claims.yaml": CLAIM.replace("task:", "tusk:")})
    saved = tmp_path / "bad.json"
    r = axis("diff", "-f", str(bad), "-o", "json", "--out", str(saved))
    assert r.code == 1 and r.out == "" and "claims.yaml:4" in r.err and not saved.exists()
