"""Git sources through every front end: the documents, `axis get|describe source`, `axis
suspend|resume source`, the HTTP API, and the host's converging revision in `describe host`."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from starlette.testclient import TestClient

from axis.app.context import AppContext
from axis.app.queries import object_one, source_list, source_one
from axis.app.sources import short_revision
from axis.specs import Kind
from axis.state.events import list_events
from axis.state.object_kinds import SOURCE_KIND
from axis.state.sources import begin_attempt, source_row
from tests import dbcheck
from tests.claimkit import host, store
from tests.sourcekit import BROKEN, GOOD, URL, stalled_source
from tests.viewkit import steady


def _fleet(app: AppContext) -> float:
    now = time.time()
    store(app.db(), [host("a"), host("b")], now=now - 200)
    stalled_source(app.db(), now)
    return now


def test_the_document_says_what_the_rows_say(app: AppContext) -> None:
    now = _fleet(app)
    doc = source_one(app.db(), "fleet")
    assert {k: doc[k] for k in ("name", "url", "ref", "path", "interval", "suspended", "verifySignatures",
                                "lastAttemptedRevision", "lastAppliedRevision")} == {
        "name": "fleet", "url": URL, "ref": "main", "path": "specs", "interval": 60.0, "suspended": False,
        "verifySignatures": True, "lastAttemptedRevision": BROKEN, "lastAppliedRevision": GOOD}
    assert doc["lastAppliedAt"] == dbcheck.iso(now - 50) and doc["createdAt"] == dbcheck.iso(now - 100)
    assert [(c["type"], c["status"], c["reason"]) for c in doc["conditions"]] == [
        ("Ready", "False", "SpecInvalid"), ("Stalled", "True", "SpecInvalid")]
    broken, good = doc["history"]  # newest first
    assert broken == {"revision": BROKEN, "time": dbcheck.iso(now - 10), "result": "SpecInvalid",
                      "message": "specs/web.yaml:7: spec.port: not a port",
                      "note": "force-push: not a descendant of " + GOOD,
                      "hostsChanged": 0, "hostsFailed": 0, "finished": dbcheck.iso(now - 9)}
    assert (good["revision"], good["result"], good["hostsChanged"]) == (GOOD, "Converged", 1)
    listed = source_list(app.db())
    assert listed["kind"] == "SourceList" and listed["items"] == [doc]


def test_history_shows_the_newest_five_and_an_attempt_in_progress(app: AppContext) -> None:
    now = _fleet(app)
    with app.db().write() as s:
        for i in range(6):
            begin_attempt(s, "fleet", f"main@sha1:{i:040x}", now + i)
    history = source_one(app.db(), "fleet")["history"]
    assert [h["revision"] for h in history] == [f"main@sha1:{i:040x}" for i in (5, 4, 3, 2, 1)]
    assert (history[0]["result"], history[0]["finished"]) == ("Progressing", None)


def test_a_new_source_has_no_revisions_yet(app: AppContext) -> None:
    from axis.state.sources import upsert_source

    with app.db().write() as s:
        upsert_source(s, name="new", url=URL, ref="v1", path=".", interval=0.5, verify=False, now=time.time())
    doc = source_one(app.db(), "new")
    assert (doc["lastAttemptedRevision"], doc["lastAppliedRevision"], doc["lastAppliedAt"]) == (None, None, None)
    assert doc["conditions"] == [] and doc["history"] == []


def test_host_documents_carry_the_revision_that_converged_them(app: AppContext, axis: Any) -> None:
    now = _fleet(app)
    a = object_one(app.db(), Kind.HOST, "a")["status"]
    assert (a["revision"], a["revisionSource"], a["revisionConvergedAt"]) == (GOOD, "fleet", dbcheck.iso(now - 40))
    assert "revision" not in object_one(app.db(), Kind.HOST, "b")["status"]  # no source converged b
    r = axis("describe", "host", "a")
    assert r.code == 0
    assert re.search(rf"^Revision: +{GOOD} \(source fleet, converged 4\ds ago\)$", r.out, re.M), r.out
    assert "Revision:" not in axis("describe", "host", "b").out


def test_get_sources_table_and_documents(app: AppContext, axis: Any) -> None:
    _fleet(app)
    r = axis("get", "sources")
    assert r.code == 0
    header, row = r.out.splitlines()
    assert header.split() == ["NAME", "URL", "REF", "APPLIED", "READY", "SUSPENDED", "AGE"]
    assert row.split() == ["fleet", URL, "main", f"main@{GOOD[10:17]}", "False", "(SpecInvalid)", "no", "1m"]
    assert steady(json.loads(axis("get", "sources", "-o", "json").out)) == steady(source_list(app.db()))
    assert json.loads(axis("get", "source", "fleet", "-o", "json").out) == source_one(app.db(), "fleet")
    assert "name: fleet" in axis("get", "sources", "-o", "yaml").out
    for args in (("-l", "a=b"), ("-w",)):
        refused = axis("get", "sources", *args)
        assert refused.code == 1 and "does not apply to `axis get sources`" in refused.err


def test_get_sources_with_none_stored(axis: Any) -> None:
    r = axis("get", "sources")
    assert r.code == 0 and r.out == "" and "No sources found" in r.err
    assert json.loads(axis("get", "sources", "-o", "json").out) == {
        "apiVersion": "axis/v1", "kind": "SourceList", "items": []}


def test_describe_source_shows_revisions_conditions_history_and_events(app: AppContext, axis: Any) -> None:
    _fleet(app)
    r = axis("describe", "source", "fleet")
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    for expected in ("Name:         fleet", f"URL:          {URL}", "Ref:          main", "Path:         specs",
                     "Interval:     1m", "Signatures:   required (--verify-signatures)", "Suspended:    no",
                     f"Attempted:    {BROKEN}"):
        assert expected in lines, expected
    assert any(line.startswith(f"Applied:      {GOOD} (at ") for line in lines)
    history = lines[lines.index("History:") + 1:lines.index("Events:")]
    assert history[0].split() == ["REVISION", "AGE", "RESULT", "CHANGED", "FAILED", "MESSAGE"]
    assert re.fullmatch(r"1\ds", history[1].split()[1])
    assert history[1].split()[2:5] == ["SpecInvalid", "0", "0"] and history[1].split()[0] == BROKEN
    assert "force-push: not a descendant" in history[1] and "specs/web.yaml:7: spec.port" in history[1]
    assert history[2].split()[:1] + history[2].split()[2:5] == [GOOD, "Converged", "1", "0"]
    conditions = lines[lines.index("Conditions:") + 1:lines.index("History:")]
    assert [c.split()[:3] for c in conditions[1:]] == [["Ready", "False", "SpecInvalid"],
                                                       ["Stalled", "True", "SpecInvalid"]]
    assert "Created" in lines[lines.index("Events:") + 2]


def test_suspend_and_resume(app: AppContext, axis: Any) -> None:
    _fleet(app)
    assert axis("suspend", "source", "fleet").out == "source/fleet suspended\n"
    assert axis("get", "sources").out.splitlines()[1].split()[-2] == "yes"
    assert "Suspended:    yes" in axis("describe", "source", "fleet").out
    assert axis("resume", "sources", "fleet").out == "source/fleet resumed\n"
    with app.db().read() as s:
        row = source_row(s, "fleet")
        assert row is not None and not row.suspended
        reasons = [e.reason for e in list_events(s, kind=SOURCE_KIND, name="fleet")]
    assert reasons[-2:] == ["SourceSuspended", "SourceResumed"]


def test_an_unknown_source_or_word_is_one_line_and_exit_1(app: AppContext, axis: Any) -> None:
    _fleet(app)
    for args in (("suspend", "source", "nope"), ("resume", "source", "nope"), ("describe", "source", "nope"),
                 ("get", "source", "nope")):
        r = axis(*args)
        assert (r.code, r.err) == (1, "error: source 'nope' not found\n"), args
    r = axis("suspend", "host", "a")
    assert (r.code, r.err) == (1, "error: unknown resource type 'host' (use source)\n")
    assert axis("delete", "source", "fleet").err == \
        "error: unknown resource type 'source' (use host, profile or claim)\n"


def test_short_revision() -> None:
    assert short_revision(GOOD) == "main@a1b2c3d"
    assert short_revision("v1.2@sha1:" + "f" * 40) == "v1.2@fffffff"
    assert short_revision(None) is None and short_revision("") is None
    assert short_revision("odd") == "odd"


def test_the_api_serves_the_same_documents_and_suspends(client: TestClient, app: AppContext, axis: Any) -> None:
    _fleet(app)
    assert steady(client.get("/sources").json()) == steady(json.loads(axis("get", "sources", "-o", "json").out))
    one = client.get("/sources/fleet").json()
    assert one == source_one(app.db(), "fleet")
    assert one["lastAppliedRevision"] == dbcheck.rows(app.state, "SELECT last_applied FROM sources")[0][0]
    r = client.post("/sources/fleet/suspend")
    assert r.status_code == 200 and r.json()["suspended"] is True
    assert dbcheck.rows(app.state, "SELECT suspended FROM sources WHERE name = 'fleet'") == [(1,)]
    r = client.post("/sources/fleet/resume")
    assert r.status_code == 200 and r.json()["suspended"] is False
    for method, path in (("GET", "/sources/nope"), ("POST", "/sources/nope/suspend"), ("POST", "/sources/nope/resume")):
        r = client.request(method, path)
        assert (r.status_code, r.json()) == (404, {"error": "source 'nope' not found"}), path
    assert client.get("/sources/fleet/suspend").status_code == 405  # a write is a POST only
