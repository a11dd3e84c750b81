"""The HTTP API in-process (Starlette's TestClient) on a real SQLite file: the token gate, body
limits, the read endpoints against what the CLI prints, the lease endpoints, and the OpenAPI
document against the routes."""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from axis.api.app import build_app
from axis.api.routes import ENDPOINTS, MAX_BODY
from axis.app.token import TokenError, ensure_token
from axis.app.context import AppContext
from axis.placement.ledger import place_claims
from axis.state.events import list_events
from axis.state.objects import list_rows
from tests import dbcheck
from tests.claimkit import claim, host, store
from tests.conftest import API_TOKEN
from tests.factskit import golden_facts
from tests.viewkit import steady


@pytest.fixture
def fleet(app: AppContext) -> AppContext:
    """Two hosts with stored facts (one with a GPU), one never reached, and a claim bound now."""
    store(app.db(), [host("a"), host("b"), host("c"), claim("job", "batch job", requires={"memory": "4Gi"})],
          {"a": golden_facts("ubuntu-24.04-h200-vm"), "b": golden_facts("debian12")}, now=time.time())
    place_claims(app.db(), now=time.time())
    return app


def _example_path(path: str) -> str:
    return path.replace("{name}", "a")


def test_every_endpoint_refuses_a_missing_or_wrong_token(client: TestClient, app: AppContext) -> None:
    for e in ENDPOINTS:
        url = _example_path(e.path)
        # an empty or truncated token must fail too: a prefix check would let `Bearer ` through
        for headers in ({"Authorization": ""}, {"Authorization": "Bearer nope"},
                        {"Authorization": f"Basic {API_TOKEN}"}, {"Authorization": f"Bearer {API_TOKEN}x"},
                        {"Authorization": "Bearer "},
                        {"Authorization": "Bearer"}, {"Authorization": f"Bearer {API_TOKEN[:4]}"},
                        {"Authorization": f"Bearer {API_TOKEN[:-1]}"}, {"Authorization": f"Bearer {API_TOKEN[1:]}"}):
            r = client.request(e.method, url, headers=headers, content=b"apiVersion: axis/v1\n")
            assert r.status_code == 401, (e.method, url, headers)
            assert r.headers["www-authenticate"].startswith("Bearer")
            assert r.json() == {"error": "missing or wrong bearer token"}
    with TestClient(build_app(app, API_TOKEN)) as bare:  # no Authorization header at all
        assert bare.get("/health").status_code == 401
        assert bare.get("/nowhere").status_code == 401  # even unknown paths say nothing without the token
    with app.db().read() as session:
        assert list_events(session) == []  # no refused request changed anything


def test_the_right_token_is_accepted(client: TestClient, app: AppContext) -> None:
    r = client.get("/health")
    assert r.status_code == 200
    assert r.json()["status"] == "ok" and r.json()["state"] == str(app.state)
    assert client.get("/health", headers={"Authorization": f"bearer  {API_TOKEN}"}).status_code == 200


def test_token_file_is_created_0600_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "state.db.token"
    old = os.umask(0)  # even with a permissive umask the file is never readable by others
    try:
        token = ensure_token(path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(token) >= 40 and path.read_text().strip() == token
    assert ensure_token(path) == token


def test_a_token_file_others_can_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.token"
    ensure_token(path)
    path.chmod(0o644)
    with pytest.raises(TokenError, match="accessible by other users"):
        ensure_token(path)


def test_oversized_bodies_are_refused_and_nothing_is_stored(client: TestClient, app: AppContext) -> None:
    big = b"#" * (MAX_BODY + 1)
    r = client.post("/apply", content=big)
    assert r.status_code == 413 and "larger than" in r.json()["error"]

    def chunked() -> Iterator[bytes]:  # no Content-Length: refused while it streams in
        for _ in range(MAX_BODY // 65536 + 2):
            yield b"#" * 65536
    assert client.post("/apply", content=chunked()).status_code == 413
    assert client.post("/apply", content=b"# a comment\n" * 10).status_code == 200
    with app.db().read() as session:
        assert list_rows(session, "Host") == [] and list_events(session) == []


def test_bad_query_values_are_400(client: TestClient) -> None:
    assert client.post("/apply?dryRun=maybe", content=b"").json() == {
        "error": "dryRun: expected true or false, got 'maybe'"}
    assert client.get("/events?after=x").status_code == 400


def test_hosts_and_claims_read_as_axis_get_prints_them(client: TestClient, fleet: AppContext, axis: Any) -> None:
    for resource in ("hosts", "claims"):
        cli = json.loads(axis("get", resource, "-o", "json").out)
        assert steady(client.get(f"/{resource}").json()) == steady(cli)
    # and the values are the DB's, not only the same as the CLI's
    dbcheck.check_hosts(client.get("/hosts").json(), fleet.state)
    dbcheck.check_claims(client.get("/claims").json(), fleet.state)
    one = client.get("/hosts/a").json()
    assert steady({k: v for k, v in one.items() if k != "facts"}) == steady(
        json.loads(axis("get", "hosts", "a", "-o", "json").out))
    dbcheck.check_hosts(one, fleet.state)
    assert one["facts"] == golden_facts("ubuntu-24.04-h200-vm")
    assert client.get("/hosts/c").json()["facts"] is None  # never reached
    assert client.get("/claims/job").json()["status"]["phase"] == "Bound"
    assert client.get("/hosts/zz").status_code == 404
    assert client.get("/claims/zz").json() == {"error": "Claim 'zz' not found"}


def test_facts_status_and_leases(client: TestClient, fleet: AppContext, axis: Any) -> None:
    f = client.get("/facts/b").json()
    assert f["name"] == "b" and f["status"] == "complete" and f["facts"] == golden_facts("debian12")
    assert f["summary"]["os"] == "debian 12"
    assert client.get("/facts/c").json()["status"] == "unknown"
    assert client.get("/facts/zz").status_code == 404
    assert steady(client.get("/status").json()) == steady(json.loads(axis("status", "--cached", "-o", "json").out))
    dbcheck.check_status(client.get("/status").json(), fleet.state)
    leases = client.get("/leases").json()
    assert leases["kind"] == "LeaseList"
    assert steady(leases) == steady(json.loads(axis("get", "leases", "-o", "json").out))
    assert [i["claim"] for i in leases["items"]] == ["job"]
    dbcheck.check_leases(leases, fleet.state)


def test_events_are_numbered_and_polled_with_after(client: TestClient, fleet: AppContext) -> None:
    items = client.get("/events").json()["items"]
    ids = [i["id"] for i in items]
    assert ids == sorted(ids) and len(ids) >= 5
    assert {"object": "Claim/job", "reason": "Bound"}.items() <= items[-1].items()
    assert [i["id"] for i in client.get(f"/events?after={ids[1]}").json()["items"]] == ids[2:]
    assert client.get(f"/events?after={ids[-1]}").json()["items"] == []


def test_release_and_renew_change_the_ledger_and_write_events(client: TestClient, fleet: AppContext) -> None:
    last = client.get("/events").json()["items"][-1]["id"]
    held = client.get("/leases").json()["items"][0]
    r = client.post("/claims/job/release")
    assert r.status_code == 200 and steady(r.json()) == steady(held)
    assert client.get("/leases").json()["items"] == []
    assert client.get("/claims/job").json()["status"]["phase"] == "Released"
    assert client.post("/claims/job/release").status_code == 409  # nothing left to release
    r = client.post("/claims/job/renew?ttl=30m")  # a Released claim is placed again
    assert r.status_code == 200 and r.json()["expiresIn"] == "in 30m"
    assert client.post("/claims/job/renew?ttl=2h").json()["expiresIn"] == "in 2h"
    reasons = [(i["object"], i["reason"]) for i in client.get(f"/events?after={last}").json()["items"]]
    assert reasons == [("Claim/job", "Released"), ("Claim/job", "Bound"), ("Claim/job", "Renewed"),
                       ("Claim/job", "Renewed")]
    assert client.post("/claims/job/renew?ttl=soon").status_code == 400
    assert client.post("/claims/zz/renew").status_code == 404
    assert client.post("/claims/zz/release").status_code == 404


def test_openapi_lists_every_route_and_nothing_else(client: TestClient, app: AppContext) -> None:
    doc = client.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    web = build_app(app, API_TOKEN).app  # type: ignore[attr-defined]
    served = {(route.path, method.lower()) for route in web.routes if isinstance(route, Route)
              for method in route.methods or () if method != "HEAD"}
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    assert served == documented and len(served) == 20
    apply_op = doc["paths"]["/apply"]["post"]
    assert {p["name"] for p in apply_op["parameters"]} == {"dryRun", "converge"}
    assert "413" in apply_op["responses"] and "401" in apply_op["responses"]
    assert doc["paths"]["/hosts/{name}"]["get"]["parameters"][0] == {
        "name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
