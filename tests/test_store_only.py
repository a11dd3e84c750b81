"""`axis apply --no-converge` and `POST /apply?converge=false` store only.

They write the specs into the state DB and nothing else: no host is contacted (a listening
socket stands in for the host's sshd and must see no connection), no claim is bound, no lease
is taken, and a lease already held is left exactly as it was. What they stored is then bound by
the next converging apply. Every check reads the state DB itself, not only the command's output.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from axis.api.app import build_app
from axis.cli.apply_cmd import store_only_summary
from axis.app.context import AppContext
from axis.reconcile.apply_pass import Stored
from axis.state import Database
from axis.state.facts import Observation, store_observations
from axis.state.objects import Change
from tests.claimkit import facts, nightly_claims
from tests.dbcheck import rows

TOKEN = "store-only-token"

HOSTS = """\
apiVersion: axis/v1
kind: Host
metadata: {{name: ubu-1}}
spec: {{address: 127.0.0.1, port: {port}, features: {{swapfile: {{size: 8G}}}}}}
---
apiVersion: axis/v1
kind: Host
metadata: {{name: ubu-2}}
spec: {{address: 127.0.0.1, port: {port}}}
"""

CLAIMS = nightly_claims("4Gi")


#: the stand-in sshd: its port and its listening socket
Stand = tuple[int, socket.socket]


@pytest.fixture
def sshd_stand_in() -> Iterator[Stand]:
    """A listening loopback socket where the hosts' sshd would be: any contact shows up as a
    connection waiting in its backlog."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        sock.setblocking(False)
        yield int(sock.getsockname()[1]), sock


def _contacted(sock: socket.socket) -> bool:
    try:
        conn, _ = sock.accept()
    except BlockingIOError:
        return False
    conn.close()
    return True


def _rows(state: Path | str) -> tuple[list[tuple[Any, ...]], dict[str, str]]:
    """The lease rows and each claim's stored placement phase, straight from the state DB."""
    leases = rows(state, "SELECT claim, host, memory_bytes, acquired, renewed, expires FROM leases ORDER BY claim")
    return leases, dict(rows(state, "SELECT claim, phase FROM claim_status"))


def _observe(state: Path | str, *names: str) -> None:
    """Facts for the hosts as if `axis status` had read them: each could hold both claims."""
    db = Database(state)
    with db.write() as session:
        store_observations(session, [Observation(n, "complete", "", facts(total_gib=30), 1.0) for n in names])
    db.close()


def _files(tmp_path: Path, port: int) -> Path:
    root = tmp_path / "specs"
    root.mkdir()
    (root / "hosts.yaml").write_text(HOSTS.format(port=port))
    (root / "claims.yaml").write_text(CLAIMS)
    return root


def test_no_converge_stores_only_and_a_converging_apply_binds(axis: Any, state_db: Path | str, tmp_path: Path,
                                                              sshd_stand_in: Stand) -> None:
    port, sshd = sshd_stand_in
    root = _files(tmp_path, port)
    _observe(state_db, "ubu-1", "ubu-2")  # placement could bind at once: only store-only stops it
    r = axis("apply", "--no-converge", "-f", str(root))
    assert r.code == 0, r.err
    assert r.out.splitlines() == ["claim/job-a created", "claim/job-b created", "host/ubu-1 created",
                                  "host/ubu-2 created"]
    assert r.err.strip() == (f"stored 2 hosts, 2 claims; not converged, claims not bound (--no-converge): "
                             f"run `axis apply -f {root}` or a controller (`axis controller -w DIR`)")
    assert not _contacted(sshd)
    assert _rows(state_db) == ([], {})  # no lease, no placement decided: both claims are Pending
    claims = json.loads(axis("get", "claims", "-o", "json").out)["items"]
    assert [(c["metadata"]["name"], c["status"]["phase"], c["status"]["host"]) for c in claims] == [
        ("job-a", "Pending", None), ("job-b", "Pending", None)]
    assert axis("get", "leases").err.strip() == "No leases found."

    doc = json.loads(axis("apply", "--no-converge", "-f", str(root), "-o", "json").out)
    assert doc["storeOnly"] is True and doc["claims"] == [] and doc["hosts"] == []
    assert _rows(state_db) == ([], {}) and not _contacted(sshd)

    r = axis("apply", "-f", str(root / "claims.yaml"), "-o", "json")  # converging; the file names no host
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert doc["storeOnly"] is False
    assert {c["claim"]: c["phase"] for c in doc["claims"]} == {"job-a": "Bound", "job-b": "Bound"}
    leases, phases = _rows(state_db)
    assert [row[:3] for row in leases] == [("job-a", "ubu-1", 4 << 30), ("job-b", "ubu-2", 4 << 30)]
    assert phases == {"job-a": "Bound", "job-b": "Bound"}


def test_no_converge_leaves_a_held_lease_as_it_was(axis: Any, state_db: Path | str, tmp_path: Path,
                                                   sshd_stand_in: Stand) -> None:
    """A bound claim whose spec grows is re-checked (and its lease resized) by a converging pass;
    a store-only apply stores the new spec and leaves the lease untouched."""
    port, sshd = sshd_stand_in
    root = _files(tmp_path, port)
    _observe(state_db, "ubu-1", "ubu-2")
    assert axis("apply", "--no-converge", "-f", str(root)).code == 0
    assert axis("apply", "-f", str(root / "claims.yaml")).code == 0
    bound = _rows(state_db)
    assert len(bound[0]) == 2
    (root / "claims.yaml").write_text(CLAIMS.replace("memory: 4Gi}, ttl", "memory: 6Gi}, ttl"))
    r = axis("apply", "--no-converge", "-f", str(root))
    assert "claim/job-a configured" in r.out
    assert _rows(state_db) == bound and not _contacted(sshd)
    assert axis("apply", "-f", str(root / "claims.yaml")).code == 0
    leases, _ = _rows(state_db)
    assert leases[0][:3] == ("job-a", "ubu-1", 6 << 30)  # the converging apply resized it


@pytest.fixture
def client(state_db: Path | str) -> Iterator[tuple[TestClient, Path | str]]:
    app = AppContext(state=state_db)
    with TestClient(build_app(app, TOKEN), headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        yield c, state_db


def test_api_converge_false_stores_only_and_a_converging_apply_binds(client: tuple[TestClient, Path | str],
                                                                     sshd_stand_in: Stand) -> None:
    http, state = client
    port, sshd = sshd_stand_in
    body = (HOSTS.format(port=port) + "---\n" + CLAIMS).encode()
    _observe(state, "ubu-1", "ubu-2")
    r = http.post("/apply?converge=false", content=body)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["storeOnly"] is True and doc["claims"] == [] and doc["hosts"] == [] and doc["failed"] == 0
    assert [c["name"] for c in doc["changes"]] == ["ubu-1", "ubu-2", "job-a", "job-b"]
    assert not _contacted(sshd)
    assert _rows(state) == ([], {})
    assert [(c["metadata"]["name"], c["status"]["phase"]) for c in http.get("/claims").json()["items"]] == [
        ("job-a", "Pending"), ("job-b", "Pending")]
    assert http.get("/leases").json()["items"] == []

    r = http.post("/apply", content=CLAIMS.encode())  # converging; the body names no host
    assert r.status_code == 200, r.text
    assert r.json()["storeOnly"] is False
    assert {c["claim"]: c["phase"] for c in r.json()["claims"]} == {"job-a": "Bound", "job-b": "Bound"}
    leases, phases = _rows(state)
    assert [row[:2] for row in leases] == [("job-a", "ubu-1"), ("job-b", "ubu-2")]
    assert phases == {"job-a": "Bound", "job-b": "Bound"}
    assert not _contacted(sshd)


def test_the_summary_names_a_running_controller_and_what_was_pruned() -> None:
    """Beside a controller, store-only leaves the work to it and says so; pruned objects are
    counted apart, since they are no longer stored."""
    changes = [Change("Host", "a", "unchanged", 1, "x:1"), Change("Claim", "c", "created", 1, "x:5"),
               Change("HostProfile", "p", "pruned", 1, "x:9")]
    stored = Stored(False, changes, [], [], [], controller="4242", store_only=True)
    assert store_only_summary(stored, [Path("specs dir")]) == (
        "stored 1 host, 1 claim (1 pruned); not converged, claims not bound (--no-converge): "
        "the controller (pid 4242) on this state DB does both at its next pass")
    alone = Stored(False, changes[:1], [], [], [], store_only=True)
    assert store_only_summary(alone, [Path("specs dir"), Path("more")]) == (
        "stored 1 host; not converged, claims not bound (--no-converge): "
        "run `axis apply -f 'specs dir' -f more` or a controller (`axis controller -w DIR`)")
