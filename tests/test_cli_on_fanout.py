"""`axis on all` says which `fanout: false` hosts it left out and how to include them, in its
summary, and on stderr with -o json/yaml, whose stdout lists the hosts run only (`axis clean all`
too: tests/test_cli_clean.py), instead of a bare "2/2 hosts ok"."""

from __future__ import annotations

import json

from tests.fake_transport import FakeConnector, FakeTransport

SPECS = {"hosts.yaml": """
    apiVersion: axis/v1
    kind: Host
    metadata: {name: a}
    spec: {address: a.lan}
    ---
    apiVersion: axis/v1
    kind: Host
    metadata: {name: b, labels: {role: gpu}}
    spec: {address: b.lan}
    ---
    apiVersion: axis/v1
    kind: Host
    metadata: {name: solo}
    spec: {address: solo.lan, fanout: false}
"""}


def _fleet(axis, specs):  # type: ignore[no-untyped-def]
    assert axis("apply", "--no-converge", "-f", str(specs(SPECS))).code == 0
    axis.connector = FakeConnector({n: FakeTransport(n).script("hostname", stdout=f"{n}\n") for n in ("a", "b", "solo")})


def test_on_all_names_the_hosts_it_left_out(axis, specs):  # type: ignore[no-untyped-def]
    _fleet(axis, specs)
    r = axis("on", "all", "--", "hostname")
    assert r.code == 0, r.err
    assert "[solo]" not in r.out and sorted(axis.connector.connected) == ["a", "b"]
    lines = r.err.splitlines()
    assert lines[-2].startswith("2/2 hosts ok in ")
    assert lines[-1] == "left out 1 host(s) with fanout: false: solo (name one to include it: axis on solo ...)"
    # -o json|yaml: stdout lists the hosts run, as it did (`jq 'select(.exitStatus != 0)'` reads
    # no left-out host as failed); the note is on stderr in every output mode
    for fmt in ("json", "yaml"):
        done = axis("on", "all", "-o", fmt, "--", "hostname")
        assert done.err.splitlines()[-1] == lines[-1], (fmt, done.err)
        assert "solo" not in done.out and "leftOut" not in done.out
    doc = json.loads(axis("on", "all", "-o", "json", "--", "hostname").out)
    assert [(d["host"], d["exitStatus"]) for d in doc] == [("a", 0), ("b", 0)]


def test_on_says_nothing_left_out_when_nothing_was(axis, specs):  # type: ignore[no-untyped-def]
    _fleet(axis, specs)
    named = axis("on", "solo", "--", "hostname")
    assert named.code == 0 and "[solo]" in named.out and "left out" not in named.err
    assert named.err.splitlines()[-1].startswith("1/1 hosts ok in ")
    selected = axis("on", "all", "-l", "role=gpu", "--", "hostname")  # -l matched no fanout: false host
    assert selected.code == 0 and "left out" not in selected.err
    solo = axis("on", "solo", "-o", "json", "--", "hostname")
    assert [d["host"] for d in json.loads(solo.out)] == ["solo"] and "left out" not in solo.err
