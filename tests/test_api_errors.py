"""Every API error is JSON `{"error": ...}` (issue 16, items 5 and 7): hostile spec bodies and
query values are 400s that say what is wrong, an unusable state DB and an axis bug are JSON 500s
(the bug's traceback in the log), never Starlette's text/plain 500; and the controller keeps its
last good state when the watched directory turns hostile."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from axis.app import queries
from axis.api.app import build_app
from axis.app.context import AppContext
from axis.drivers.connector import SshOptions
from axis.reconcile.controller import Controller
from axis.specs.bounded_yaml import MAX_NODES
from axis.state import Database
from axis.state.objects import list_rows
from tests.conftest import API_TOKEN, HOST

HEAD = "apiVersion: axis/v1\nkind: Host\nmetadata: {name: a}\n"


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """The classic nested-alias document: `width ** levels` nodes once expanded (~460 bytes)."""
    lines = [HEAD + "spec:\n  address: a.lan\n  features:\n    swapfile:\n      path: &l0 [" + ", ".join(["x"] * width) + "]"]
    lines += [f"      l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


BAD_BODIES = [
    ("alias-bomb", alias_bomb().encode(), f"more than {MAX_NODES:,} nodes once aliases are expanded"),
    ("deep-brackets", (HEAD + "spec: {address: a.lan, description: " + "[" * 3000 + "]" * 3000 + "}\n").encode(),
     "nested deeper than 64 levels"),
    ("deep-block", (HEAD + "spec:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 200))).encode(),
     "nested deeper than 64 levels"),
    ("size-400-digits", (HEAD + "spec: {address: a.lan, features: {swapfile: {size: " + "9" * 400 + "}}}\n").encode(),
     "spec.features.swapfile.size: size (a 400-digit number) is larger than the maximum, 1048576Ti (1 EiB)"),
    ("size-400-digits-G", (HEAD + "spec: {address: a.lan, features: {swapfile: {size: " + "9" * 400 + "G}}}\n").encode(),
     "larger than the maximum, 1048576Ti (1 EiB)"),
    ("port-5000-digits", (HEAD + "spec: {address: a.lan, port: " + "9" * 5000 + "}\n").encode(),
     "<request>:4: number of 5,000 characters is larger than any field takes (at most 1,000 digits are read)"),
    ("name-huge-hex", (HEAD.replace("{name: a}", "{name: 0x" + "2" * 5000 + "}") + "spec: {address: a.lan}\n").encode(),
     "<request>:3: number of 5,002 characters is larger than any field takes"),
    ("ttl-huge", b"apiVersion: axis/v1\nkind: Claim\nmetadata: {name: c}\nspec: {task: t, ttl: 99999999999999999999999d}\n",
     "spec.ttl: invalid duration '99999999999999999999999d': longer than the maximum, 3650d (10 years)"),
    ("invalid-utf8", HEAD.encode() + b"spec: {address: \xc3\x28}\n", "<request>:4: not UTF-8 text: byte 0xc3"),
    ("nul-escape", (HEAD + 'spec: {address: "a\\0b"}\n').encode(), "spec.address: control character U+0000"),
    ("nul-raw", HEAD.encode() + b"spec: {address: a\x00b}\n", "unacceptable character #x0000"),
    ("tool-dash", b"apiVersion: axis/v1\nkind: Claim\nmetadata: {name: c}\nspec: {task: t, requires: {tools: [-x]}}\n",
     "spec.requires.tools[0]: tool name '-x' is invalid"),
    ("omap-repeated-key", (HEAD + "spec: {address: a.lan, description: !!omap [a: 1, a: 2]}\n").encode(),
     "<request>:4: tag !!omap is not allowed in a spec"),  # was ruamel's AssertionError: a 500
    ("binary-nul", (HEAD + "spec: {address: !!binary aAAubGFu}\n").encode(), "<request>:4: tag !!binary is not allowed"),
    ("wide-flow-map", (HEAD + "spec: {address: a.lan, x: {" + ", ".join(f"k{i}: 1" for i in range(60_000)) + "}}\n").encode(),
     f"<request>:4: more than {MAX_NODES:,} nodes (mappings, lists and values) in one file"),
]


@pytest.mark.parametrize("body,says", [(b, s) for _, b, s in BAD_BODIES], ids=[i for i, _, _ in BAD_BODIES])
def test_hostile_apply_bodies_are_400_json_and_fast(client: TestClient, app: AppContext, body: bytes, says: str):
    started = time.process_time()
    r = client.post("/apply?converge=false", content=body)
    took = time.process_time() - started
    assert r.status_code == 400 and r.headers["content-type"] == "application/json", r.text
    doc = r.json()
    assert doc["error"].endswith("nothing was stored")
    assert len(doc["errors"]) == 1 and says in doc["errors"][0], doc
    assert doc["errors"][0].startswith("<request>:")
    assert took < 1.0, f"{took:.2f}s"
    with app.db().read() as session:
        assert list_rows(session, "Host") == [] and list_rows(session, "Claim") == []


@pytest.mark.parametrize("after", ["99999999999999999999999", "9223372036854775808", "²", "-1", "1e3", " 1"])
def test_events_after_out_of_range_is_400_json(client: TestClient, after: str):
    r = client.get("/events", params={"after": after})
    assert r.status_code == 400 and r.json()["error"].startswith("after: expected an event id"), r.text


def test_events_after_the_largest_id_is_an_empty_list(client: TestClient):
    r = client.get("/events", params={"after": str(2**63 - 1)})
    assert r.status_code == 200 and r.json()["items"] == []


def test_renew_with_a_huge_ttl_is_400(client: TestClient):
    r = client.post("/claims/x/renew", params={"ttl": "99999999999999999999999d"})
    assert r.status_code == 400 and "longer than the maximum, 3650d" in r.json()["error"]


def test_an_axis_bug_is_json_500_with_the_traceback_logged(client: TestClient, monkeypatch: pytest.MonkeyPatch,
                                                           caplog: pytest.LogCaptureFixture):
    def broken(_db: Database) -> dict:
        raise ZeroDivisionError("a bug")
    monkeypatch.setattr(queries, "lease_list", broken)
    with caplog.at_level(logging.ERROR, logger="axis.api"):
        r = client.get("/leases")
    assert r.status_code == 500 and r.headers["content-type"] == "application/json"
    assert r.json() == {"error": "internal error: ZeroDivisionError (the traceback is in the server's log)"}
    [record] = [rec for rec in caplog.records if rec.name == "axis.api"]
    assert "GET /leases failed" in record.getMessage() and record.exc_info[0] is ZeroDivisionError


@pytest.mark.sqlite_only("writes garbage into the SQLite file")
def test_a_damaged_state_db_is_json_500_naming_the_file(state_db: Path | str):
    state_db.parent.mkdir(parents=True)
    state_db.write_bytes(b"garbage " * 200)
    with TestClient(build_app(AppContext(state=state_db), API_TOKEN),
                    headers={"Authorization": f"Bearer {API_TOKEN}"}) as c:
        r = c.get("/hosts")
    assert r.status_code == 500
    assert r.json()["error"].startswith(f"{state_db}: file is not a database; ")


@pytest.mark.parametrize("hostile", [alias_bomb(), HEAD + "spec: {address: a.lan, description: " + "[" * 3000 + "]" * 3000 + "}\n",
                                     HEAD + "spec: {address: a.lan, features: {swapfile: {size: " + "9" * 400 + "}}}\n",
                                     HEAD + "spec: {address: a.lan, description: !!omap [a: 1, a: 2]}\n",
                                     "--- ~\n" * 30_000],
                         ids=["alias-bomb", "deep", "size-400-digits", "omap-repeated-key", "many-documents"])
def test_controller_logs_a_hostile_edit_and_keeps_the_last_good_state(state_db: Path | str, specs, hostile: str,
                                                                        controller_lines: list[str]):
    watch = specs({"h.yaml": HOST.format(name="keep")})
    lines = controller_lines
    controller = Controller(Database(state_db), SshOptions(), watch, resync=600)
    controller.apply_specs()
    (watch / "h.yaml").write_text(hostile)
    started = time.process_time()
    assert controller.apply_specs() == []
    assert time.process_time() - started < 1.0
    assert lines[-2].startswith(f"spec error: {watch / 'h.yaml'}:")
    assert lines[-1] == "1 error(s); the last good desired state stays in force"
    with controller.db.read() as session:
        assert [r.name for r in list_rows(session, "Host")] == ["keep"]
