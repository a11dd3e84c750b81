"""Hostile spec data in every string field a Host or Claim allows (issue 10): shell metacharacters,
newlines, unicode, very long strings are either refused at load with `path:line` errors naming the
field, or carried as data; apply, status, on, describe and exec never execute them, on the hosts
or here (asserted by marker files that must never appear). Extends test_ssh_fleet's hostile test."""

from __future__ import annotations

import glob
import json
import re

import pytest

from axis.specs import SpecErrors
from axis.specs.loader import load_spec_text
from tests.integration.fleetspecs import fleet_axis, say

pytestmark = pytest.mark.hosts

MARK = "pwned10"


def payloads(tag: str) -> dict[str, str]:
    """Each one would create /tmp/pwned10-<tag>-<kind> if any shell ever ran it."""
    m = f"/tmp/{MARK}-{tag}"
    return {
        "subst": f"$(touch {m}-subst)",
        "tick": f"`touch {m}-tick`",
        "semi": f"x; touch {m}-semi; '\"",
        "newline": f"x\ntouch {m}-newline\n",
        "unicode": f"ünï-cødé ☃ 😀 ‮ $(touch {m}-uni)",
        "long": "a" * 5000 + f"$(touch {m}-long)",
    }


FIELDS = ["description", "address", "user", "label", "labelkey", "swappath", "task", "tool", "selector"]


def _q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a YAML double-quoted scalar


def _doc(field: str, name: str, value: str, real: str) -> str:
    """One object carrying `value` in `field`; Hosts otherwise point at the real host `real`."""
    if field in ("task", "tool", "selector"):
        spec = {"task": f"task: {_q(value)}" if field == "task" else "task: print a greeting",
                "tool": f"requires: {{memory: 64Mi, tools: [{_q(value)}]}}" if field == "tool"
                else "requires: {memory: 64Mi, tools: []}"}
        sel = f"\n  selector: {{matchLabels: {{role: {_q(value)}}}}}" if field == "selector" else ""
        return (f"apiVersion: axis/v1\nkind: Claim\nmetadata: {{name: {name}}}\nspec:\n  {spec['task']}\n"
                f"  {spec['tool']}{sel}\n  ttl: 1h\n")
    labels = {"label": f"{{role: {_q(value)}}}", "labelkey": f"{{{_q(value)}: x}}"}.get(field, "{role: test}")
    address = _q(value) if field == "address" else real
    user = f"\n  user: {_q(value)}" if field == "user" else ""
    description = _q(value) if field == "description" else "hostile"
    features = (f"{{swapfile: {{size: 1M, path: {_q(value)}}}}}" if field == "swappath"
                else "{panicRecovery: {panicSeconds: 7}}")
    return (f"apiVersion: axis/v1\nkind: Host\nmetadata: {{name: {name}, labels: {labels}}}\nspec:\n"
            f"  address: {address}{user}\n  description: {description}\n  features: {features}\n")


def _markers(fleet) -> list[str]:
    found = [p for p in glob.glob(f"/tmp/{MARK}-*")]
    for host in fleet.hosts:
        out = host.exec(f"ls -d /tmp/{MARK}-* /root/{MARK}-* /{MARK}-* 2>/dev/null; true").stdout.split()
        found += [f"{host.name}:{p}" for p in out]
    return found


def test_hostile_values_in_every_string_field_are_refused_or_carried_never_run(fleet, axis, specs, tmp_path):
    run = fleet_axis(fleet, axis)
    accepted: list[tuple[str, str, str]] = []
    refused: list[str] = []
    docs: list[str] = []
    real_hosts = [h.name for h in fleet.hosts]
    n = 0
    for field in FIELDS:
        for kind, value in payloads(field).items():
            n += 1
            name = f"h{n}-{field}-{kind}".lower()
            real = real_hosts[n % len(real_hosts)]
            text = _doc(field, name, value, real)
            try:
                load_spec_text(text, "f.yaml")
            except SpecErrors as exc:
                lines = str(exc).splitlines()
                assert lines and all(re.match(r"^f\.yaml:\d+: \S", line) for line in lines), lines
                assert all(len(line) < 600 for line in lines), "an error line repeats a 5,000-character value"
                refused.append(f"{field}/{kind}: {lines[0][:120]}")
                continue
            accepted.append((field, kind, name))
            docs.append(text)
    summary = sorted({f for f, _, _ in accepted})
    say(f"accepted as data: {len(accepted)} ({', '.join(summary)}); refused at load: {len(refused)}")
    for line in refused:
        say(f"  refused {line}")
    # fields that must be refused outright (names, labels, tools, paths are validated)
    assert not any(f in ("label", "labelkey", "tool", "selector") for f, _, _ in accepted), accepted
    # the free-text fields are carried as data, byte for byte
    assert {"description", "task"} <= set(summary), summary

    spec = specs({"hostile.yaml": "---\n".join(docs)})
    # accepted objects pointing at the real hosts converge; hostile addresses/users simply fail
    applied = run("--connect-timeout", "5", "apply", "-f", str(spec), "-o", "json")
    assert "Traceback" not in applied.err, applied.err
    run("--connect-timeout", "5", "status", "--timeout", "10")
    on = run("--connect-timeout", "5", "on", "all", "--timeout", "20", "--", "true")
    assert "Traceback" not in on.err
    for field, _kind, name in accepted:
        described = run("describe", "host" if field not in ("task",) else "claim", name)
        assert described.code == 0, described.err
    claims = json.loads(run("get", "claims", "-o", "json").out)["items"]
    executed = 0
    for claim in claims:
        if claim.get("status", {}).get("phase") == "Bound":
            executed += run("exec", claim["metadata"]["name"], "--", "true").code == 0
    assert executed >= 1, claims[:1]  # the exec path ran with a hostile task on a real host
    got = json.loads(run("get", "hosts", "-o", "json").out)["items"]
    by_name = {h["metadata"]["name"]: h for h in got}
    for field, kind, name in accepted:
        if field == "description":
            assert by_name[name]["spec"]["description"] == payloads(field)[kind]
    assert _markers(fleet) == [], "spec data was executed"
