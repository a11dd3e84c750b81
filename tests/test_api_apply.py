"""`POST /apply` against `axis apply -o json`: the same answer and the same stored state, bad
YAML refused with `<request>:line` errors and nothing stored, and a dry run that stores nothing.

Two state DBs side by side: one written by the CLI from a spec file, one by the API from the
same text; every comparison is like with like (the file's path vs `<request>` is the one
expected difference, and timestamps move between the two runs)."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from axis.api.app import build_app
from axis.app.context import AppContext
from axis.main import run
from axis.state.events import list_events
from axis.state.objects import list_rows

TOKEN = "apply-test-token"

SPECS = """\
apiVersion: axis/v1
kind: Host
metadata:
  name: a
  labels: {{role: worker}}
spec:
  address: 127.0.0.1
  port: {port}
  features:
    swapfile: {{size: 8G}}
---
apiVersion: axis/v1
kind: HostProfile
metadata: {{name: baseline}}
spec:
  selector: {{matchLabels: {{role: worker}}}}
  features: {{earlyoom: {{}}}}
---
apiVersion: axis/v1
kind: HostProfile
metadata: {{name: lonely}}
spec:
  selector: {{matchLabels: {{role: none}}}}
---
apiVersion: axis/v1
kind: Claim
metadata: {{name: job}}
spec: {{task: compile the project}}
"""


@pytest.fixture
def api(new_state: Callable[[str], Path | str]) -> Iterator[tuple[TestClient, AppContext]]:
    app = AppContext(state=new_state("api"))
    with TestClient(build_app(app, TOKEN), headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        yield client, app


def cli(state: Path | str, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any]:
    capsys.readouterr()
    code = run(["--state", str(state), *args])
    return code, json.loads(capsys.readouterr().out)


def normalized(doc: Any, spec_file: Path | None = None) -> Any:
    """`doc` with the spec file's path written as `<request>` and clock-dependent fields dropped."""
    text = json.dumps(doc)
    if spec_file is not None:
        text = text.replace(str(spec_file), "<request>")
    return _drop(json.loads(text), {"seconds", "creationTimestamp", "lastTransitionTime", "lastProbeTime", "age", "observedAt",
                                    "factsAt", "expires", "expiresIn", "time"})


def _drop(doc: Any, keys: set[str]) -> Any:
    if isinstance(doc, dict):
        return {k: _drop(v, keys) for k, v in doc.items() if k not in keys}
    if isinstance(doc, list):
        return [_drop(v, keys) for v in doc]
    return doc


@pytest.mark.parametrize("converge", [False, True], ids=["stored-only", "converged-unreachable"])
def test_apply_through_the_api_equals_axis_apply(converge: bool, api: tuple[TestClient, AppContext], tmp_path: Path,
                                                 new_state: Callable[[str], Path | str], closed_port: int,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    client, app = api
    text = SPECS.format(port=closed_port)
    spec_file = tmp_path / "specs.yaml"
    spec_file.write_text(text)
    cli_state = new_state("cli")
    flags = [] if converge else ["--no-converge"]
    code, cli_doc = cli(cli_state, capsys, "apply", "-f", str(spec_file), "-o", "json", *flags)
    r = client.post(f"/apply?converge={str(converge).lower()}", content=text.encode())
    assert r.status_code == 200
    assert normalized(r.json()) == normalized(cli_doc, spec_file)
    assert code == (1 if converge else 0)  # the CLI exits 1 for the failed host; the API says `failed: 1`
    doc = r.json()
    assert [(c["kind"], c["name"], c["action"], c["source"]) for c in doc["changes"]] == [
        ("Host", "a", "created", "<request>:1"), ("HostProfile", "baseline", "created", "<request>:12"),
        ("HostProfile", "lonely", "created", "<request>:19"), ("Claim", "job", "created", "<request>:25")]
    assert doc["warnings"] == ["HostProfile/lonely matches no host"]
    assert doc["storeOnly"] is not converge
    if converge:  # the host was really contacted: refused, recorded like any failed pass
        assert doc["failed"] == 1 and "connection refused" in doc["hosts"][0]["reason"]
        assert doc["claims"][0]["claim"] == "job" and doc["claims"][0]["phase"] == "Pending"
    else:  # stored only: no host contacted, no placement pass (tests/test_store_only.py)
        assert doc["hosts"] == [] and doc["failed"] == 0 and doc["claims"] == []
    for resource in ("hosts", "profiles", "claims", "events"):
        _, from_cli = cli(cli_state, capsys, "get", resource, "-o", "json")
        _, from_api = cli(app.state, capsys, "get", resource, "-o", "json")
        assert normalized(from_api) == normalized(from_cli, spec_file), resource
    with app.db().read() as session:
        reasons = [e.reason for e in list_events(session, kind="Host", name="a")]
    assert reasons == (["Created", "Unreachable"] if converge else ["Created"])


def test_reapplying_the_same_body_changes_nothing(api: tuple[TestClient, AppContext], closed_port: int) -> None:
    client, _ = api
    body = SPECS.format(port=closed_port).encode()
    assert client.post("/apply?converge=false", content=body).status_code == 200
    again = client.post("/apply?converge=false", content=body).json()
    assert {c["action"] for c in again["changes"]} == {"unchanged"}


def test_dry_run_answers_with_the_changes_and_stores_nothing(api: tuple[TestClient, AppContext],
                                                             closed_port: int) -> None:
    client, app = api
    r = client.post("/apply?dryRun=true&converge=false", content=SPECS.format(port=closed_port).encode())
    assert r.status_code == 200
    doc = r.json()
    assert doc["dryRun"] is True and doc["claims"] == []
    assert [c["action"] for c in doc["changes"]] == ["created"] * 4
    with app.db().read() as session:
        assert list_rows(session, "Host") == [] and list_events(session) == []


BAD = [
    ("yaml-syntax", "apiVersion: axis/v1\nkind: Host\nmetadata:\n  name: [a\nspec: {}\n",
     ["<request>:5: invalid YAML"]),
    ("unknown-field", "apiVersion: axis/v1\nkind: Host\nmetadata: {name: a}\nspec:\n  address: a.lan\n  adress: x\n",
     ["<request>:6: Host/a: spec.adress: unknown field"]),
    ("second-document-bad", textwrap.dedent("""\
        apiVersion: axis/v1
        kind: Host
        metadata: {name: good}
        spec: {address: good.lan}
        ---
        apiVersion: axis/v1
        kind: Host
        metadata: {name: bad}
        spec: {address: bad.lan, port: 70000}
        """), ["<request>:9: Host/bad: spec.port: Input should be less than or equal to 65535"]),
    ("not-utf8", b"kind: \xff\n", ["<request>:1: not UTF-8 text: byte 0xff at column 7"]),
]


@pytest.mark.parametrize("body,expected", [(b, e) for _, b, e in BAD], ids=[i for i, _, _ in BAD])
def test_bad_yaml_is_400_with_file_line_errors_and_nothing_is_stored(
        body: str | bytes, expected: list[str], api: tuple[TestClient, AppContext]) -> None:
    client, app = api
    r = client.post("/apply", content=body.encode() if isinstance(body, str) else body)
    assert r.status_code == 400
    doc = r.json()
    got = doc.get("errors", [doc["error"]])
    assert len(got) == len(expected) and all(g.startswith(e) for g, e in zip(got, expected, strict=True)), got
    if "errors" in doc:
        assert doc["error"] == f"{len(expected)} error(s); nothing was stored"
    with app.db().read() as session:
        assert list_rows(session, "Host") == [] and list_events(session) == []
