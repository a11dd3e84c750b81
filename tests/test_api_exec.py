"""`POST /claims/{name}/exec` in-process: off (403) unless the app was built with allow_exec, a body
that is not {command, confirm: "YES"} refused (400) before anything is looked up or run, the
refusals of `axis exec`'s operation as 404/409/502, and the answer against its OpenAPI schema.
The command itself runs through `axis.app.guarded_exec.run_on_claim`, replaced here by a script
(the real one runs on sshd test hosts: tests/integration/test_mcp_exec_hosts.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from starlette.testclient import TestClient

from axis.api.app import build_app
from axis.api.openapi import document, response_schemas
from axis.api.routes import ENDPOINTS
from axis.app import guarded_exec
from axis.app.context import AppContext
from axis.app.guarded_exec import OutputTail
from axis.drivers.transport import ErrorKind, TransportError
from axis.hostcmd.claim_exec import ExecLost, ExecResult
from axis.placement.ledger import place_claims
from tests.claimkit import claim, host, store
from tests.conftest import API_TOKEN
from tests.factskit import golden_facts
from tests.servekit import stop_serve

URL = "/claims/job/exec"
YES = {"command": "echo hi", "confirm": "YES"}


@pytest.fixture
def fleet(app: AppContext) -> AppContext:
    """Host b with stored facts, claim `job` bound to it, claim `waits` that fits nowhere."""
    store(app.db(), [host("b"), claim("job", requires={"memory": "1Gi"}),
                     claim("waits", requires={"memory": "4000Gi"})], {"b": golden_facts("debian12")}, now=time.time())
    place_claims(app.db(), now=time.time())
    return app


@pytest.fixture
def ran(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Every (claim, line) the API ran; each run writes two chunks and exits 3."""
    calls: list[tuple[str, str]] = []

    def run(app: AppContext, claim: str, line: str, on_output: Callable[[str, str], None]) -> ExecResult:
        calls.append((claim, line))
        on_output("stdout", "hi\n")
        on_output("stderr", "oops\n")
        return ExecResult(exit_code=3, enforcement="watchdog no memory controller in cgroup v2")
    monkeypatch.setattr(guarded_exec, "run_on_claim", run)
    return calls


@pytest.fixture
def allowed(fleet: AppContext) -> Iterator[TestClient]:
    """The API as `axis serve --allow-exec` serves it."""
    with TestClient(build_app(fleet, API_TOKEN, allow_exec=True),
                    headers={"Authorization": f"Bearer {API_TOKEN}"}) as c:
        yield c


def _schema() -> Draft202012Validator:
    schemas, defs = response_schemas(ENDPOINTS)
    index = [(e.method, e.path) for e in ENDPOINTS].index(("POST", "/claims/{name}/exec"))
    return Draft202012Validator({**schemas[index], "components": {"schemas": defs}})


def test_exec_is_off_unless_the_server_allows_it(client: TestClient, fleet: AppContext,
                                                  ran: list[tuple[str, str]]) -> None:
    for body in (YES, {}, {"command": "echo hi"}):
        r = client.post(URL, json=body)
        assert r.status_code == 403, r.text
        assert r.json() == {"error": "exec is off: this API runs commands on hosts only when started with "
                                     "`axis serve --allow-exec`"}
    assert client.post("/claims/nope/exec", content=b"not json").status_code == 403  # before the body or the name
    assert ran == []


@pytest.mark.parametrize(("body", "says"), [
    ({"command": "echo hi"}, 'refused: confirm must be "YES" to run a command on a host (got \'\'); nothing was started'),
    ({"command": "echo hi", "confirm": "yes"}, "confirm must be \"YES\" to run a command on a host (got 'yes')"),
    ({"command": "echo hi", "confirm": "YES please"}, "(got 'YES please')"),
    ({"command": "   ", "confirm": "YES"}, "empty command"),
    ({"confirm": "YES"}, "command (required) and confirm must be strings"),
    ({"command": ["echo", "hi"], "confirm": "YES"}, "command (required) and confirm must be strings"),
    ({"command": "echo hi", "confirm": True}, "command (required) and confirm must be strings"),
    ({"command": "echo hi", "confirm": "YES", "force": True}, "expected a JSON object with only command, confirm"),
    (["echo hi"], "expected a JSON object with only command, confirm"),
    (b"{not json", 'expected a JSON object {"command": "...", "confirm": "YES"}'),
    (b"\xff\xfe", 'expected a JSON object'),
    (b"[" * 100_000, 'expected a JSON object'),
])
def test_a_body_that_is_not_a_confirmed_command_is_400_and_runs_nothing(
        allowed: TestClient, ran: list[tuple[str, str]], body: Any, says: str) -> None:
    r = allowed.post(URL, content=body) if isinstance(body, bytes) else allowed.post(URL, json=body)
    assert r.status_code == 400, r.text
    assert says in r.json()["error"]
    assert ran == []


def test_a_confirmed_command_answers_its_exit_code_and_output(allowed: TestClient, ran: list[tuple[str, str]]) -> None:
    r = allowed.post(URL, json={"command": "make test; echo 'done'", "confirm": "YES"})
    assert r.status_code == 200, r.text
    assert r.json() == {"claim": "job", "command": "make test; echo 'done'", "exitCode": 3, "oomKilled": False,
                        "message": "", "enforcement": "watchdog no memory controller in cgroup v2", "output": "hi\noops\n",
                        "outputTruncated": 0}
    _schema().validate(r.json())
    assert ran == [("job", "make test; echo 'done'")]  # the line as given, one shell line


def test_an_oom_kill_comes_back_as_the_operation_reports_it(allowed: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    said = "killed: used more than its claim's memory (3.0Gi of 1.0Gi)"

    def run(app: AppContext, claim: str, line: str, on_output: Callable[[str, str], None]) -> ExecResult:
        on_output("stdout", "x" * 70_000)
        return ExecResult(exit_code=137, oom_killed=True, message=said, enforcement="cgroup")
    monkeypatch.setattr(guarded_exec, "run_on_claim", run)
    doc = allowed.post(URL, json=YES).json()
    assert (doc["exitCode"], doc["oomKilled"], doc["message"], doc["enforcement"]) == (137, True, said, "cgroup")
    assert doc["output"] == "x" * guarded_exec.OUTPUT_TAIL and doc["outputTruncated"] == 70_000 - guarded_exec.OUTPUT_TAIL


def test_the_operations_refusals_keep_their_meaning(allowed: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = allowed.post("/claims/nope/exec", json=YES)
    assert (missing.status_code, missing.json()) == (404, {"error": "Claim 'nope' not found"})
    # the real operation: an unbound claim is refused before any host is contacted
    pending = allowed.post("/claims/waits/exec", json=YES)
    assert pending.status_code == 409, pending.text
    assert pending.json()["error"].startswith("not started: claim 'waits' is not bound (Pending: no host fits")

    def unreachable(app: AppContext, claim: str, line: str, on_output: Callable[[str, str], None]) -> ExecResult:
        raise TransportError(ErrorKind.UNREACHABLE, "b", "connection refused")
    monkeypatch.setattr(guarded_exec, "run_on_claim", unreachable)
    r = allowed.post(URL, json=YES)
    assert (r.status_code, r.json()) == (502, {"error": "not started: b: unreachable: connection refused"})

    def lost(app: AppContext, claim: str, line: str, on_output: Callable[[str, str], None]) -> ExecResult:
        on_output("stdout", "step 1 done\n")
        raise ExecLost("b: unreachable: connection reset")
    monkeypatch.setattr(guarded_exec, "run_on_claim", lost)
    r = allowed.post(URL, json=YES)
    assert r.status_code == 502
    assert r.json() == {"error": "connection lost while the command ran, its outcome is unknown: "
                                 "b: unreachable: connection reset", "output": "step 1 done\n"}


def test_openapi_documents_the_body_and_every_answer() -> None:
    op = document(ENDPOINTS)["paths"]["/claims/{name}/exec"]["post"]
    body = op["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["command", "confirm"] and body["properties"]["confirm"]["const"] == "YES"
    assert set(op["responses"]) == {"200", "400", "401", "403", "404", "409", "413", "500", "502"}
    assert "--allow-exec" in op["summary"]
    Draft202012Validator.check_schema(body)
    rows = json.dumps(document(ENDPOINTS)["paths"]["/hosts"])  # an endpoint without them keeps its answers
    assert '"403"' not in rows and '"502"' not in rows


def test_the_output_tail_keeps_the_end_across_chunks() -> None:
    tail = OutputTail(limit=5)
    for text in ("ab", "cde", "fghij", "k", ""):
        tail.add("stdout", text)
    assert (tail.text(), tail.dropped) == ("ghijk", 6)
    big = OutputTail(limit=5)
    big.add("stderr", "0123456789")
    assert (big.text(), big.dropped, big.size) == ("56789", 5, 5)


def test_axis_serve_allow_exec_turns_it_on(serving: Any, api_token_file: Path) -> None:
    """The option reaches the app: the command line, ServeOptions, the HTTP server, build_app."""
    proc, url = serving("--allow-exec")
    token = api_token_file.read_text().strip()
    r = httpx.post(f"{url}/claims/nope/exec", json=YES, headers={"Authorization": f"Bearer {token}"})
    assert (r.status_code, r.json()) == (404, {"error": "Claim 'nope' not found"})  # past the 403 of a plain serve
    assert stop_serve(proc)[0] == 0
