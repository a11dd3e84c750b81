"""`axis apply/get/describe/delete` end to end, in-process, on the test's state DB (a real SQLite file, or
a PostgreSQL database under AXIS_TEST_BACKEND=postgresql)."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.backend import controller_stand_in
from tests.conftest import HOST
from tests.dbcheck import rows

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "homelab" / "specs"


def _actions(out: str) -> dict[str, str]:
    return {line.split()[0]: line.split()[1] for line in out.splitlines() if line.strip()}


def _generation(axis, name: str) -> int:
    return json.loads(axis("get", "hosts", name, "-o", "json").out)["metadata"]["generation"]


def test_example_applies_and_shows_four_hosts_with_effective_features(axis):
    r = axis("apply", "--no-converge", "-f", str(EXAMPLE))
    assert r.code == 0, r.err
    assert _actions(r.out) == {"host/ubu-1": "created", "host/ubu-2": "created", "host/gpu-1": "created",
                               "host/mini": "created", "hostprofile/baseline": "created",
                               "claim/llm-eval": "created", "claim/nightly-build": "created"}
    doc = json.loads(axis("get", "hosts", "-o", "json").out)
    assert doc["kind"] == "List"
    hosts = {item["metadata"]["name"]: item for item in doc["items"]}
    assert sorted(hosts) == ["gpu-1", "mini", "ubu-1", "ubu-2"]
    ubu1 = hosts["ubu-1"]["status"]["effectiveFeatures"]
    assert ubu1["earlyoom"] == {"settings": {}, "from": "HostProfile/baseline"}
    assert ubu1["swapfile"]["settings"] == {"size": "32Gi", "swappiness": 10, "path": "/swapfile"}
    gpu = hosts["gpu-1"]["status"]["effectiveFeatures"]
    assert gpu["persistentJournal"] == {"settings": False, "from": "Host"}  # host's false beats the profile
    assert "earlyoom" not in hosts["mini"]["status"]["effectiveFeatures"]  # not a worker
    assert hosts["mini"]["spec"]["fanout"] is False


def test_reapply_is_unchanged_and_generation_rises_only_on_spec_change(axis, specs):
    root = specs({"h.yaml": HOST.format(name="a")})
    assert _actions(axis("apply", "--no-converge", "-f", str(root)).out) == {"host/a": "created"}
    assert _actions(axis("apply", "--no-converge", "-f", str(root)).out) == {"host/a": "unchanged"}
    assert _generation(axis, "a") == 1
    # same size, other spelling: canonical form is equal, nothing changes
    (root / "h.yaml").write_text((root / "h.yaml").read_text().replace("32G", "32Gi"))
    assert _actions(axis("apply", "--no-converge", "-f", str(root)).out) == {"host/a": "unchanged"}
    (root / "h.yaml").write_text((root / "h.yaml").read_text().replace("32Gi", "16G"))
    assert _actions(axis("apply", "--no-converge", "-f", str(root)).out) == {"host/a": "configured"}
    assert _generation(axis, "a") == 2
    (root / "h.yaml").write_text((root / "h.yaml").read_text().replace("role: worker", "role: gpu"))
    assert _actions(axis("apply", "--no-converge", "-f", str(root)).out) == {"host/a": "configured"}
    assert _generation(axis, "a") == 2  # labels are not spec
    assert _actions(axis("apply", "--no-converge", "-f", str(root)).out) == {"host/a": "unchanged"}


def test_dry_run_reports_and_stores_nothing(axis, specs):
    root = specs({"h.yaml": HOST.format(name="a")})
    r = axis("apply", "--no-converge", "-f", str(root), "--dry-run")
    assert r.code == 0 and r.out.strip() == "host/a created (dry run)"
    assert axis("get", "hosts", "-o", "json").out.count('"name"') == 0
    axis("apply", "--no-converge", "-f", str(root))
    (root / "h.yaml").write_text((root / "h.yaml").read_text().replace("32G", "8G"))
    assert axis("apply", "--no-converge", "-f", str(root), "--dry-run").out.strip() == "host/a configured (dry run)"
    assert _generation(axis, "a") == 1
    doc = json.loads(axis("get", "hosts", "a", "-o", "json").out)
    assert doc["spec"]["features"]["swapfile"]["size"] == "32Gi"


def test_prune_removes_only_objects_gone_from_the_same_path(axis, specs):
    first = specs({"a.yaml": HOST.format(name="a"), "b.yaml": HOST.format(name="b")})
    other = specs({"c.yaml": HOST.format(name="c")})
    axis("apply", "--no-converge", "-f", str(first))
    axis("apply", "--no-converge", "-f", str(other))
    (first / "b.yaml").unlink()
    assert _actions(axis("apply", "--no-converge", "-f", str(first)).out) == {"host/a": "unchanged"}  # no prune: b stays
    assert axis("get", "hosts", "b").code == 0
    assert _actions(axis("apply", "--no-converge", "-f", str(first), "--prune", "--dry-run").out) == {"host/a": "unchanged", "host/b": "pruned"}
    assert axis("get", "hosts", "b").code == 0
    assert _actions(axis("apply", "--no-converge", "-f", str(first), "--prune").out) == {"host/a": "unchanged", "host/b": "pruned"}
    r = axis("get", "hosts", "b")
    assert r.code == 1 and r.err.strip() == "error: Host 'b' not found"
    assert axis("get", "hosts", "c").code == 0  # another apply set is never pruned
    assert "Pruned" in axis("get", "events").out


def test_get_yaml_round_trip_is_a_no_op(axis, specs, tmp_path):
    axis("apply", "--no-converge", "-f", str(EXAMPLE))
    for resource in ("hosts", "profiles", "claims"):
        dumped = tmp_path / f"{resource}.yaml"
        dumped.write_text(axis("get", resource, "-o", "yaml").out)
        r = axis("apply", "--no-converge", "-f", str(dumped))
        assert r.code == 0, r.err
        assert set(_actions(r.out).values()) == {"unchanged"}, r.out


def test_one_bad_document_stores_nothing(axis, specs):
    root = specs({"a.yaml": HOST.format(name="a"), "b.yaml": HOST.format(name="b") + "  bogus: 1\n"})
    r = axis("apply", "--no-converge", "-f", str(root))
    assert r.code == 1
    assert r.out == ""
    lines = r.err.strip().splitlines()
    assert lines[0] == f"error: {root}/b.yaml:11: Host/b: spec.bogus: unknown field"
    assert lines[-1] == "1 error(s); nothing was stored"
    assert "Traceback" not in r.err
    assert json.loads(axis("get", "hosts", "-o", "json").out)["items"] == []


def test_label_selector_and_tables(axis):
    axis("apply", "--no-converge", "-f", str(EXAMPLE))
    out = axis("get", "hosts", "-l", "role=worker,gpu").out
    assert out.splitlines()[0].split() == ["NAME", "ADDRESS", "STATUS", "SUDO", "FANOUT", "FEATURES", "GEN"]
    assert [line.split()[:3] for line in out.splitlines()[1:]] == [["gpu-1", "root@gpu-1.lan:2222", "unknown"]]
    names = [line.split()[0] for line in axis("get", "hosts", "-l", "role!=worker").out.splitlines()[1:]]
    assert names == ["mini"]
    wide = axis("get", "hosts", "-o", "wide").out
    assert wide.splitlines()[0].split() == ["NAME", "ADDRESS", "STATUS", "AGE", "LOAD", "RAM", "GPU", "DISK",
                                            "SUDO", "FANOUT", "DESCRIPTION"]
    assert "shared CI runner" in wide
    profiles = axis("get", "profiles").out
    assert "gpu-1,ubu-1,ubu-2" in profiles
    assert "llm-eval" in axis("get", "claims").out
    assert axis("get", "widgets").err.strip().startswith("error: unknown resource type 'widgets'")


def test_describe_shows_spec_effective_features_and_events(axis):
    axis("apply", "--no-converge", "-f", str(EXAMPLE))
    r = axis("describe", "host", "gpu-1")
    assert r.code == 0
    assert "Generation:   1" in r.out
    assert "persistentJournal   remove" in r.out
    assert "earlyoom            {}" in r.out and "HostProfile/baseline" in r.out
    assert "Events:" in r.out and "Created" in r.out
    assert "Matches:" in axis("describe", "profile", "baseline").out
    missing = axis("describe", "host", "nope")
    assert missing.code == 1 and missing.err.strip() == "error: Host 'nope' not found"


def test_delete(axis):
    axis("apply", "--no-converge", "-f", str(EXAMPLE))
    r = axis("delete", "claim", "llm-eval")
    assert (r.code, r.out.strip()) == (0, "claim/llm-eval deleted")
    assert axis("get", "claims", "llm-eval").code == 1
    assert "Deleted" in axis("get", "events", "llm-eval").out
    assert axis("delete", "claim", "llm-eval").code == 1


@pytest.mark.sqlite_only("a SQLite path whose directory cannot be made")
def test_state_path_problems_are_one_line(axis, tmp_path, capsys):
    from axis.main import run
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code = run(["--state", str(blocker / "sub" / "db"), "get", "hosts"])
    err = capsys.readouterr().err
    assert code == 1 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert str(blocker) in err


def test_state_from_env(state_db, specs, monkeypatch, capsys):
    from axis.main import run
    monkeypatch.setenv("AXIS_STATE", str(state_db))
    assert run(["get", "hosts"]) == 0
    assert run(["apply", "--no-converge", "-f", str(specs({"h.yaml": HOST.format(name="env")}))]) == 0
    assert rows(state_db, "SELECT name FROM objects") == [("env",)]  # stored where AXIS_STATE says


def test_schema_is_generated_from_the_models(axis):
    doc = json.loads(axis("schema").out)
    assert [ref["$ref"] for ref in doc["oneOf"]] == ["#/$defs/Host", "#/$defs/HostProfile", "#/$defs/Claim"]
    host = json.loads(axis("schema", "host").out)
    assert host["additionalProperties"] is False
    features = host["$defs"]["Features"]["properties"]
    assert {"swapfile", "earlyoom", "persistentJournal", "panicRecovery", "watchdog", "diskCleanup",
            "noSleep", "tailscale"} <= set(features)
    assert axis("schema", "widget").code == 1


def test_example_files_are_valid_yaml_for_other_tools():
    for file in EXAMPLE.glob("*.yaml"):
        assert list(YAML(typ="safe").load_all(file.read_text()))


def test_apply_beside_a_controller_stores_and_hands_the_hosts_over(axis, specs, state_db):
    """Found by tests/integration/test_crash_concurrency.py: an apply converging the hosts a
    controller was converging to other values failed its verify step ("still differs after apply").
    Now it stores, contacts no host (this one is unreachable: 192.0.2.1 is TEST-NET) and says who
    converges; a dry run still plans on its own. The controller is stood in for by what it holds
    (`controller_stand_in`), on either backend."""
    root = specs({"h.yaml": HOST.format(name="a").replace("a.lan", "192.0.2.1")})
    with controller_stand_in(state_db) as lock:
        r = axis("apply", "--no-wait", "-f", str(root))
        assert r.code == 0, r.out + r.err
        assert _actions(r.out) == {"host/a": "created"}
        assert f"a controller (pid {os.getpid()}) reconciles this state DB" in r.err
        again = axis("apply", "--no-wait", "-f", str(root))
        assert again.code == 0 and "nothing changed; it re-observes every host at its next resync" in again.err
        doc = json.loads(axis("apply", "--no-wait", "-f", str(root), "-o", "json").out)
        assert doc["controller"] == str(os.getpid()) and doc["hosts"] == [] and "handedOver" not in doc
        # by default it waits for the controller's pass; this lock holder never makes one
        waited = axis("apply", "--wait-timeout", "0.6", "-f", str(root), "-o", "json")
        assert waited.code == 1 and "waiting up to 0.6s for the controller's pass on 1 host(s)" in waited.err
        assert json.loads(waited.out)["handedOver"] == [
            {"name": "a", "ready": False, "reason": "NoPassYet",
             "message": "the controller reported no pass within 0.6s"}]
        # the controller stops while apply waits: it says so at once instead of waiting it out
        threading.Timer(0.7, lock.release).start()
        started = time.monotonic()
        stopped = axis("apply", "-f", str(root), "-o", "json")
        assert stopped.code == 1 and time.monotonic() - started < 30
        assert json.loads(stopped.out)["handedOver"][0]["reason"] == "ControllerStopped"
        dry = json.loads(axis("apply", "--dry-run", "-f", str(root), "-o", "json").out)
        assert dry["controller"] is None and [h["name"] for h in dry["hosts"]] == ["a"]
