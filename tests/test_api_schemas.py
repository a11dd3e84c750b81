"""The OpenAPI response schemas against real answers: every endpoint of the table has the schema
of its document type (`axis.app.documents`), and what it answers on a populated state DB
validates against it, with no key the schema does not name (the same documents as the CLI's
`-o json`, checked here too)."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from jsonschema import Draft202012Validator, ValidationError
from pydantic import TypeAdapter
from starlette.testclient import TestClient

from axis.api.app import build_app
from axis.api.openapi import document, response_schemas
from axis.api.routes import ENDPOINTS
from axis.app import guarded_exec
from axis.app.context import AppContext
from axis.app.placement_document import PlacementDocument
from axis.hostcmd.claim_exec import ExecResult
from axis.placement.ledger import place_claims
from tests.claimkit import claim, host, store
from tests.conftest import API_TOKEN
from tests.sourcekit import stalled_source
from tests.test_api import golden_facts

_PROFILE = b"""apiVersion: axis/v1
kind: HostProfile
metadata: {name: gpu-boxes}
spec:
  selector: {matchLabels: {gpu: "yes"}}
  features: {swapfile: {size: 2Gi}}
"""


@pytest.fixture
def fleet(app: AppContext) -> AppContext:
    """Hosts with stored facts (one labelled, with a GPU), one never reached, a bound claim."""
    store(app.db(), [host("a", labels={"gpu": "yes"}), host("b"), host("c"),
                     claim("job", "batch job", requires={"memory": "4Gi"})],
          {"a": golden_facts("ubuntu-24.04-h200-vm"), "b": golden_facts("debian12")}, now=time.time())
    place_claims(app.db(), now=time.time())
    stalled_source(app.db(), time.time())  # a source with history and conditions; host a converged by it
    return app


def _closed(schema: Any) -> Any:
    """The schema with every object that lists its properties closed to others: a key a
    document carries but its type does not name fails the check (the served schema stays open,
    so a client is not broken by a key added later)."""
    if isinstance(schema, dict):
        out = {k: _closed(v) for k, v in schema.items()}
        if "properties" in schema and "additionalProperties" not in schema:
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_closed(v) for v in schema]
    return schema


def _validator(schema: dict[str, Any], defs: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator({**_closed(schema), "components": {"schemas": _closed(defs)}})


def test_every_endpoint_answers_a_named_document_schema() -> None:
    doc = document(ENDPOINTS)
    for e in ENDPOINTS:
        schema = doc["paths"][e.path][e.method.lower()]["responses"]["200"]["content"]["application/json"]["schema"]
        if e.path == "/openapi.json":  # the document itself: any JSON object
            assert schema == {"additionalProperties": True, "type": "object"}
            continue
        name = schema["$ref"].removeprefix("#/components/schemas/")
        assert doc["components"]["schemas"][name]["properties"], (e.method, e.path)
    Draft202012Validator.check_schema({**doc["components"]["schemas"]["ObjectView"]})


def test_every_answer_validates_against_its_schema(fleet: AppContext, monkeypatch: pytest.MonkeyPatch) -> None:
    schemas, defs = response_schemas(ENDPOINTS)
    names = {"/hosts/{name}": "a", "/facts/{name}": "a", "/claims/{name}": "job",
             "/claims/{name}/renew": "job", "/claims/{name}/release": "job", "/sources/{name}": "fleet",
             "/sources/{name}/suspend": "fleet", "/sources/{name}/resume": "fleet", "/claims/{name}/exec": "job"}
    bodies = {"/claims/{name}/exec": json.dumps({"command": "nproc", "confirm": "YES"}).encode()}

    def run(app: AppContext, claim: str, line: str, on_output: Callable[[str, str], None]) -> ExecResult:
        on_output("stdout", "8\n")  # a script (the real run: tests/integration/test_mcp_exec_hosts.py)
        return ExecResult(exit_code=0, enforcement="watchdog no memory controller in cgroup v2")
    monkeypatch.setattr(guarded_exec, "run_on_claim", run)
    # as `axis serve --allow-exec` serves it, so that the exec endpoint answers too
    client = TestClient(build_app(fleet, API_TOKEN, allow_exec=True), headers={"Authorization": f"Bearer {API_TOKEN}"})
    answered = {}
    for e, schema in zip(ENDPOINTS, schemas, strict=True):
        url = e.path.replace("{name}", names.get(e.path, ""))
        r = client.request(e.method, url, params={"converge": "false"} if e.path == "/apply" else None,
                           content=bodies.get(e.path, _PROFILE) if e.body else None)
        assert r.status_code == 200, (e.method, url, r.text)
        _validator(schema, defs).validate(r.json())
        answered[e.path] = r.json()
    # the answers carry the optional parts, so their schemas were really exercised
    assert answered["/hosts/{name}"]["metadata"]["labels"] == {"gpu": "yes"}
    assert answered["/hosts/{name}"]["status"]["observed"]["status"] == "complete"
    assert answered["/claims/{name}"]["status"]["phase"] == "Bound"
    assert answered["/apply"]["changes"][0]["kind"] == "HostProfile"
    assert answered["/events"]["items"] and all("id" in i for i in answered["/events"]["items"])
    assert answered["/hosts/{name}"]["status"]["revisionSource"] == "fleet"
    assert answered["/sources/{name}"]["conditions"] and answered["/sources/{name}"]["history"]
    assert answered["/sources/{name}/suspend"]["suspended"] and not answered["/sources/{name}/resume"]["suspended"]
    assert answered["/claims/{name}/exec"]["output"] == "8\n"
    hosts = schemas[[e.path for e in ENDPOINTS].index("/hosts")]
    unnamed = copy.deepcopy(answered["/hosts"])
    unnamed["items"][0]["status"]["surprise"] = 1
    with pytest.raises(ValidationError):  # the closed check has teeth
        _validator(hosts, defs).validate(unnamed)


def test_the_cli_prints_the_same_documents(fleet: AppContext, axis: Any) -> None:
    schemas, defs = response_schemas(ENDPOINTS)
    by_path = dict(zip([e.path for e in ENDPOINTS], schemas, strict=True))
    for args, path in ((("get", "hosts"), "/hosts"), (("get", "claims"), "/claims"), (("get", "host", "a"), "/hosts/{name}"),
                       (("get", "leases"), "/leases"), (("get", "events"), "/events"),
                       (("get", "controller"), "/controller"), (("status", "--cached"), "/status"),
                       (("get", "sources"), "/sources"), (("get", "source", "fleet"), "/sources/{name}")):
        printed = json.loads(axis(*args, "-o", "json").out)
        _validator(by_path[path], defs).validate(printed)
    placement = TypeAdapter(PlacementDocument).json_schema(mode="serialization")  # `place`, the MCP's rank_hosts
    ranked = json.loads(axis("place", "batch job", "-o", "json").out)
    assert ranked["ranked"] and ranked["rejected"]  # c, never observed, is rejected
    _validator(placement, {}).validate(ranked)
