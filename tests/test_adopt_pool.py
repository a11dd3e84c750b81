"""`axis import pool` and `axis import axis-nodes` on rosters like the two tools' READMEs show,
and what `axis apply --no-converge` then makes of the files, unchanged."""

from __future__ import annotations

import errno
import json
import subprocess
import sys
from pathlib import Path

from tests.adoptkit import FIXTURES, copied, error_lines, hosts_json, objects

POOL_FEATURES = {"tailscale", "diskCleanup", "noSleep", "persistentJournal", "panicRecovery", "earlyoom",
                 "swapfile", "watchdog"}


def test_pool_roster_becomes_hosts_and_the_init_profile_that_apply_accepts(axis, tmp_path):
    out = tmp_path / "specs"
    result = axis("import", "pool", str(FIXTURES / "pool.json"), "--out", str(out))
    assert result.code == 0, result.err
    assert sorted(p.name for p in out.iterdir()) == [
        "host-mini.yaml", "host-pi5-akida.yaml", "host-ubu-1.yaml", "host-ubu-2.yaml", "hostprofile-pool-init.yaml"]
    found = objects(out)
    assert found["Host/pi5-akida"]["spec"] == {"address": "192.168.50.155", "user": "ubuntu", "sudo": True,
                                               "description": "anima — dedicated Akida neuromorphic host",
                                               "fanout": False}
    assert found["Host/ubu-2"]["spec"] == {"address": "ubu-2", "sudo": True, "description": "shared CI runner"}
    assert found["Host/mini"]["metadata"]["labels"] == {"os": "macos", "pool-init": "true"}
    assert "pool-init" not in found["Host/pi5-akida"]["metadata"]["labels"]  # pool init skipped it
    profile = found["HostProfile/pool-init"]["spec"]
    assert set(profile["features"]) == POOL_FEATURES
    assert profile["features"]["swapfile"] == {"size": "32Gi", "swappiness": 10}
    assert profile["features"]["panicRecovery"] == {"panicSeconds": 10}
    assert profile["features"]["watchdog"] == {"timeoutSeconds": 30}
    assert profile["features"]["diskCleanup"] == {"retentionDays": 3, "deepAtPercent": 85}
    assert "60-pool-recovery.conf" in (out / "hostprofile-pool-init.yaml").read_text()  # says what differs

    applied = axis("apply", "--no-converge", "-f", str(out))
    assert applied.code == 0, applied.err
    hosts = hosts_json(axis)
    assert set(hosts["ubu-1"]["status"]["effectiveFeatures"]) == POOL_FEATURES
    assert hosts["ubu-1"]["status"]["effectiveFeatures"]["earlyoom"]["from"] == "HostProfile/pool-init"
    assert hosts["pi5-akida"]["status"]["effectiveFeatures"] == {}
    assert hosts["pi5-akida"]["spec"]["fanout"] is False


def test_pool_state_is_honoured_and_stdout_writes_nothing(axis, tmp_path, monkeypatch):
    monkeypatch.setenv("POOL_STATE", str(FIXTURES / "pool.json"))
    monkeypatch.chdir(tmp_path)
    result = axis("import", "pool", "--stdout")
    assert result.code == 0, result.err
    assert result.out.count("kind: Host\n") == 4 and "kind: HostProfile" in result.out
    assert not (tmp_path / "specs").exists()


def test_exclude_names_other_hosts_pool_left_out(axis, tmp_path):
    out = tmp_path / "specs"
    assert axis("import", "pool", str(FIXTURES / "pool.json"), "--out", str(out), "--exclude", "mini").code == 0
    found = objects(out)
    assert found["Host/mini"]["spec"]["fanout"] is False
    assert "fanout" not in found["Host/pi5-akida"]["spec"]  # the default named only pool's own


def test_a_bad_entry_is_one_line_with_file_line_and_field_and_nothing_is_written(axis, tmp_path):
    roster = json.loads((FIXTURES / "pool.json").read_text())
    roster["hosts"][1]["port"] = 2222
    roster["hosts"][2]["sudo"] = "yes"
    path = tmp_path / "pool.json"
    path.write_text(json.dumps(roster, indent=2))
    out = tmp_path / "specs"
    result = axis("import", "pool", str(path), "--out", str(out))
    assert result.code == 1
    assert error_lines(result.err) == [
        f"error: {path}:15: port: unknown key (pool knows description, name, os, ssh, sudo)",
        f"error: {path}:20: sudo: must be true or false"]
    assert "nothing was written" in result.err
    assert not out.exists()


def test_names_are_converted_and_a_collision_is_an_error(axis, tmp_path):
    path = tmp_path / "pool.json"
    path.write_text('{"hosts": [\n {"name": "Build_Box", "ssh": "ops@build"},\n {"name": "build-box", "ssh": "b2"}\n]}\n')
    result = axis("import", "pool", str(path), "--stdout")
    assert result.code == 1
    assert error_lines(result.err) == [f"error: {path}:3: Host name 'build-box' is also made by {path}:2; "
                                       "rename one of them in the source"]
    path.write_text('{"hosts": [{"name": "Build_Box", "ssh": "ops@build"}]}')
    result = axis("import", "pool", str(path), "--stdout")
    assert result.code == 0
    assert "name: build-box" in result.out and "named 'Build_Box' in the source" in result.out


def test_existing_files_are_kept_without_force_and_replaced_with_it(axis, tmp_path):
    out = tmp_path / "specs"
    out.mkdir()
    (out / "host-ubu-1.yaml").write_text("# mine\n")
    result = axis("import", "pool", str(FIXTURES / "pool.json"), "--out", str(out))
    assert result.code == 1
    assert error_lines(result.err) == [f"error: {out / 'host-ubu-1.yaml'}: exists; pass --force to overwrite it"]
    assert [p.name for p in out.iterdir()] == ["host-ubu-1.yaml"]  # none of the others either
    assert axis("import", "pool", str(FIXTURES / "pool.json"), "--out", str(out), "--force").code == 0
    assert "mine" not in (out / "host-ubu-1.yaml").read_text()
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # the staging directory is gone


def test_an_object_already_defined_in_the_output_directory_is_an_error(axis, tmp_path):
    out = tmp_path / "specs"
    out.mkdir()
    (out / "fleet.yaml").write_text("apiVersion: axis/v1\nkind: Host\nmetadata: {name: mini}\nspec: {address: m}\n")
    result = axis("import", "pool", str(FIXTURES / "pool.json"), "--out", str(out))
    assert result.code == 1
    assert error_lines(result.err) == [f"error: {out / 'fleet.yaml'}:1: Host 'mini' is already defined here; "
                                       f"the import from {FIXTURES / 'pool.json'}:6 would define it twice"]
    assert [p.name for p in out.iterdir()] == ["fleet.yaml"]


def test_a_spec_file_that_does_not_load_hides_no_other_files_objects(axis, tmp_path):
    out = tmp_path / "specs"
    out.mkdir()
    (out / "broken.yaml").write_text("apiVersion: axis/v1\nkind: Host\nmetadata: {name: [\n")
    (out / "fleet.yaml").write_text("apiVersion: axis/v1\nkind: Host\nmetadata: {name: mini}\nspec: {address: m}\n")
    result = axis("import", "pool", str(FIXTURES / "pool.json"), "--out", str(out))
    assert result.code == 1
    assert error_lines(result.err) == [f"error: {out / 'fleet.yaml'}:1: Host 'mini' is already defined here; "
                                       f"the import from {FIXTURES / 'pool.json'}:6 would define it twice"]
    assert sorted(p.name for p in out.iterdir()) == ["broken.yaml", "fleet.yaml"]


def test_axis_nodes_become_hosts_with_role_labels(axis, tmp_path):
    out = tmp_path / "specs"
    result = axis("import", "axis-nodes", str(FIXTURES / "nodes.yaml"), "--out", str(out))
    assert result.code == 0, result.err
    found = objects(out)
    assert found["Host/node-b"] == {"apiVersion": "axis/v1", "kind": "Host",
                                    "metadata": {"name": "node-b", "labels": {"role": "worker"}},
                                    "spec": {"address": "node-b.local", "user": "alice", "port": 2222}}
    assert found["Host/mac-studio"]["spec"] == {"address": "192.168.1.40", "user": "bob"}
    text = (out / "host-node-b.yaml").read_text()
    assert "timeout_sec: 20 has no per-host field in axis" in text
    assert axis("apply", "--no-converge", "-f", str(out)).code == 0
    assert sorted(hosts_json(axis)) == ["mac-studio", "node-a", "node-b"]


def test_axis_nodes_errors_name_the_line_and_field(axis, tmp_path):
    nodes = copied("nodes.yaml", tmp_path)
    nodes.write_text(nodes.read_text().replace("ssh_port: 2222", "ssh_port: twenty").replace("role: primary",
                                                                                             "role: primary\n    gpu: true"))
    result = axis("import", "axis-nodes", str(nodes), "--out", str(tmp_path / "specs"))
    assert result.code == 1
    assert error_lines(result.err) == [
        f"error: {nodes}:6: gpu: unknown field (AXIS knows name, hostname, ssh_user, ssh_port, role, timeout_sec)",
        f"error: {nodes}:12: ssh_port: must be a whole number from 1 to 65535"]
    assert not (tmp_path / "specs").exists()


def test_a_value_axis_refuses_is_reported_at_the_source_line(axis, tmp_path):
    path = tmp_path / "pool.json"
    path.write_text('{"hosts": [\n {"name": "a", "ssh": "ssh://ops@[fe80::1]:2222", "os": "macos"},\n'
                    ' {"name": "b", "ssh": "b", "os": "mac os"}\n]}\n')
    result = axis("import", "pool", str(path), "--out", str(tmp_path / "specs"))
    assert result.code == 1
    assert error_lines(result.err) == [f"error: {path}:3: axis refuses the Host 'b' made from here: metadata.labels: "
                                       "label value 'mac os' of 'os' is invalid: letters, digits, '-', '_' and '.', "
                                       "at most 63 characters"]
    assert not (tmp_path / "specs").exists()
    path.write_text(path.read_text().replace("mac os", "macos"))
    assert axis("import", "pool", str(path), "--out", str(tmp_path / "specs")).code == 0
    assert objects(tmp_path / "specs")["Host/a"]["spec"] == {"address": "fe80::1", "user": "ops", "port": 2222,
                                                             "sudo": False}


def test_help_lists_import_and_loads_no_importer():
    """`axis --help` names the group from its module, which imports typer only."""
    probe = ("import sys; from axis.main import run; code = run(['--help']); "
             "print('ADOPT', code, sorted(m for m in sys.modules if m.startswith('axis.adopt')))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert "│ import " in done.stdout
    assert done.stdout.splitlines()[-1] == "ADOPT 0 []"


def test_an_empty_roster_is_an_error_and_creates_nothing(axis, tmp_path):
    """An import of nothing is a wrong file, not a success: exit 1, no --out directory made."""
    out = tmp_path / "specs"
    pool, nodes = tmp_path / "pool.json", tmp_path / "nodes.yaml"
    pool.write_text('{"hosts": []}\n')
    nodes.write_text("nodes: []\n")
    result = axis("import", "pool", str(pool), "--out", str(out))
    assert (result.code, error_lines(result.err)) == (1, [f"error: {pool}:1: hosts: no hosts: nothing to import"])
    result = axis("import", "axis-nodes", str(nodes), "--out", str(out))
    assert (result.code, error_lines(result.err)) == (1, [f"error: {nodes}:1: nodes: no nodes: nothing to import"])
    assert not out.exists()


def test_the_profile_notes_say_what_axis_does_otherwise_and_where_each_feature_applies(tmp_path):
    """The notes' platforms are the drivers' (`oses`); pool's leftovers that would fight axis's
    files are named, and so is what axis's tailscale does not do that pool's install.sh did."""
    from axis.adopt.pool import INIT_FEATURES, import_pool
    from axis.adopt.writer import render
    from axis.drivers.features import DRIVERS

    said = {"noSleep": {"macos"}, "tailscale": {"linux", "macos"}}
    assert {name: set(DRIVERS[name].oses) for name in INIT_FEATURES} == \
        {name: said.get(name, {"linux"}) for name in INIT_FEATURES}
    profile = render(next(d for d in import_pool(FIXTURES / "pool.json") if d.kind == "HostProfile"))
    text = " ".join(line.lstrip("# ").strip() for line in profile.splitlines() if line.startswith("#"))
    assert "noSleep applies to macOS hosts only, tailscale to Linux and macOS, the other six to Linux only" in text
    assert "Remove pool's 60-pool-recovery.conf: it sorts after axis's file, so at boot its settings win" in text
    assert "pool's install.sh added tailscale's apt repository; axis adds none" in text


def test_a_rename_that_fails_midway_names_the_files_already_written(axis, tmp_path, monkeypatch):
    """The files are renamed into place one by one: a failure between two says which are there."""
    out = tmp_path / "specs"
    real_replace, calls = Path.replace, []

    def replace(self, target):
        calls.append(target)
        if len(calls) == 2:
            raise OSError(errno.EIO, "Input/output error", str(target))
        return real_replace(self, target)

    monkeypatch.setattr(Path, "replace", replace)
    result = axis("import", "pool", str(FIXTURES / "pool.json"), "--out", str(out))
    assert result.code == 1
    assert error_lines(result.err) == [f"error: {out / 'host-ubu-2.yaml'}: cannot write: Input/output error"]
    assert f"1 error(s); written before it failed: {out / 'host-ubu-1.yaml'}" in result.err
    assert sorted(p.name for p in out.iterdir()) == ["host-ubu-1.yaml"]  # and the staging directory is gone
