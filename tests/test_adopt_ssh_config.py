"""`axis import ssh-config` on an ssh_config with Include, Match and ProxyJump: the aliases are
resolved by the real `ssh -G` (local: it connects nowhere), run with -F on the test's file."""

from __future__ import annotations

import os
import pwd
import shutil
from pathlib import Path

import pytest

from axis.adopt import ssh_config
from tests.adoptkit import copied, error_lines, hosts_json, objects

pytestmark = pytest.mark.skipif(shutil.which("ssh") is None, reason="needs the OpenSSH client")


def _config(tmp_path: Path) -> Path:
    """The fixture with its Include pointing at its own conf.d (OpenSSH reads a relative Include
    under the real ~/.ssh, whatever $HOME says)."""
    root = copied("ssh", tmp_path)
    config = root / "config"
    config.write_text(config.read_text().replace("@DIR@", str(root)))
    return config


def test_aliases_become_hosts_as_openssh_resolves_them(axis, tmp_path):
    config, out = _config(tmp_path), tmp_path / "specs"
    result = axis("import", "ssh-config", str(config), "--out", str(out))
    assert result.code == 0, result.err
    found = objects(out)
    # wildcard and negated patterns are no hosts; an alias twice is one host; Include is followed
    assert sorted(found) == ["Host/bastion", "Host/ci-runner-01", "Host/ci-runner-02", "Host/gpu-box",
                             "Host/ubu-1", "Host/ubu-2"]
    # port 22 is OpenSSH's default: left to ssh_config (see test_defaults_are_left_to_ssh_config)
    assert found["Host/ubu-1"]["spec"] == {"address": "ubu-1", "user": "ops", "sudo": False,
                                           "description": "ssh ubu-1: 10.0.0.11 via bastion"}
    # `Match host` sees the name after HostName, as in OpenSSH
    assert found["Host/gpu-box"]["spec"]["user"] == "gpuadmin"
    assert found["Host/gpu-box"]["spec"]["port"] == 2222
    assert found["Host/bastion"]["spec"]["port"] == 2202
    assert found["Host/ci-runner-02"]["spec"]["address"] == "CI_Runner_02"  # the alias, as written
    assert f"imported from {config.parent / 'conf.d' / 'work.conf'}:1" in (out / "host-ci-runner-01.yaml").read_text()
    assert axis("apply", "--no-converge", "-f", str(out)).code == 0
    assert len(hosts_json(axis)) == 6
    # the addresses are aliases of this file: every later command must read it
    assert f"next: `axis --ssh-config {config} diff -f {out}` shows what applying them would change; every " \
           f"axis command that reaches these hosts needs `--ssh-config {config}`" in result.err


def test_match_picks_aliases_and_sudo_sets_it(axis, tmp_path):
    result = axis("import", "ssh-config", str(_config(tmp_path)), "--match", "ubu-*", "--sudo", "--stdout")
    assert result.code == 0, result.err
    assert result.out.count("kind: Host") == 2
    assert result.out.count("sudo: true") == 2


def test_a_config_openssh_refuses_is_reported_at_the_alias(axis, tmp_path):
    config = _config(tmp_path)
    config.write_text(config.read_text().replace("    Port 2222", "    Port 2222\n    Frobnicate yes"))
    result = axis("import", "ssh-config", str(config), "--out", str(tmp_path / "specs"))
    assert result.code == 1
    # OpenSSH's own words, at the line it names, once (it stops `ssh -G` for every alias alike)
    assert error_lines(result.err) == [f"error: {config}:24: OpenSSH refuses it: Bad configuration option: frobnicate"]
    assert not (tmp_path / "specs").exists()


def test_an_alias_openssh_cannot_resolve_is_reported_at_its_host_line(axis, tmp_path):
    config = tmp_path / "config"
    config.write_text("Host ok\n    HostName 10.0.0.1\n\nHost broken\n    HostName h%q\n    ProxyJump ssh://u@:x\n")
    result = axis("import", "ssh-config", str(config), "--stdout")
    assert result.code == 1
    assert error_lines(result.err) == [f"error: {config}:6: OpenSSH refuses it: Invalid ProxyJump \"ssh://u@:x\""]
    config.write_text(config.read_text().replace("    ProxyJump ssh://u@:x\n", ""))
    result = axis("import", "ssh-config", str(config), "--stdout")
    assert result.code == 1
    assert error_lines(result.err) == [f"error: {config}:4: Host: ssh -G broken: "
                                       "vdollar_percent_expand: unknown key %q percent_expand: failed"]


def test_a_config_without_aliases_is_an_error(axis, tmp_path):
    config = tmp_path / "config"
    config.write_text("Host *\n    User me\n")
    result = axis("import", "ssh-config", str(config), "--stdout")
    assert error_lines(result.err) == [f"error: {config}: no Host alias without wildcards in this file or its Includes"]


def test_without_a_file_the_login_homes_config_is_read_and_passed_to_ssh(axis, tmp_path, monkeypatch):
    """OpenSSH takes ~ from the passwd database, not $HOME: with HOME elsewhere, the aliases and
    their resolution still come from one file, the login home's ~/.ssh/config (given to `ssh -F`,
    so `ssh -G` reads it and not another one)."""
    elsewhere, login = tmp_path / "elsewhere", tmp_path / "login"
    (elsewhere / ".ssh").mkdir(parents=True)
    (elsewhere / ".ssh" / "config").write_text("Host decoy\n    User wrong\n")
    (login / ".ssh").mkdir(parents=True)
    (login / ".ssh" / "config").write_text("Host alpha\n    HostName 10.0.0.5\n    User alice\n    Port 2200\n")
    monkeypatch.setenv("HOME", str(elsewhere))
    monkeypatch.setattr(ssh_config, "login_home", lambda: login)
    result = axis("import", "ssh-config", "--stdout")
    assert result.code == 0, result.err
    assert "kind: Host" in result.out and "decoy" not in result.out
    assert "  address: alpha\n  user: alice\n  port: 2200\n" in result.out


def test_include_paths_are_under_the_login_home_as_openssh_expands_them(tmp_path, monkeypatch):
    login = tmp_path / "login"
    (login / ".ssh" / "conf.d").mkdir(parents=True)
    (login / ".ssh" / "conf.d" / "a.conf").write_text("Host relative\n")
    (login / ".ssh" / "tilde.conf").write_text("Host tilde\n")
    config = tmp_path / "config"
    config.write_text("Include conf.d/*.conf\nInclude ~/.ssh/tilde.conf\nHost own\n")
    monkeypatch.setenv("HOME", str(tmp_path / "elsewhere"))
    monkeypatch.setattr(ssh_config, "login_home", lambda: login)
    problems: list = []
    assert [alias for alias, _, _ in ssh_config.aliases(config, problems)] == ["relative", "tilde", "own"]
    assert problems == []
    assert ssh_config.included("conf.d/x") == f"{login}/.ssh/conf.d/x"
    assert ssh_config.included("/etc/ssh/x") == "/etc/ssh/x"


def test_the_login_home_is_the_passwd_entrys_not_home(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert ssh_config.login_home() == Path(pwd.getpwuid(os.getuid()).pw_dir)
    assert ssh_config.default_file() == ssh_config.login_home() / ".ssh" / "config"


def test_defaults_are_left_to_ssh_config(axis, tmp_path):
    """`ssh -G` prints a user and port for every alias: the login name and 22 when the config sets
    none. Pinned in the spec they would override a User or Port added to ssh_config later."""
    config = tmp_path / "config"
    config.write_text(f"Host plain\n    HostName 10.0.0.7\n\nHost own-name\n    User {ssh_config.login_name()}\n"
                      "    Port 22\n\nHost other\n    User deploy\n    Port 2022\n")
    out = tmp_path / "specs"
    result = axis("import", "ssh-config", str(config), "--out", str(out))
    assert result.code == 0, result.err
    found = objects(out)
    assert found["Host/plain"]["spec"] == {"address": "plain", "sudo": False, "description": "ssh plain: 10.0.0.7"}
    assert "user" not in found["Host/own-name"]["spec"] and "port" not in found["Host/own-name"]["spec"]
    assert (found["Host/other"]["spec"]["user"], found["Host/other"]["spec"]["port"]) == ("deploy", 2022)
    assert f"# user and port as `ssh -G plain` resolves them, left out where they are OpenSSH's defaults " \
           f"({ssh_config.login_name()}, 22): there ssh_config decides when axis connects\n" in \
           (out / "host-plain.yaml").read_text()


def test_the_default_file_needs_no_option_unless_home_points_elsewhere(monkeypatch, tmp_path):
    """axis connects through asyncssh, which reads $HOME's ~/.ssh/config: that file needs no
    --ssh-config; the login home's, when $HOME is another directory, does."""
    monkeypatch.setenv("HOME", str(tmp_path))
    assert ssh_config.connect_option(tmp_path / ".ssh" / "config") is None
    assert ssh_config.connect_option(Path("/etc/my ssh/config")) == "--ssh-config '/etc/my ssh/config'"


def test_a_match_that_matches_no_alias_is_an_error_and_creates_nothing(axis, tmp_path):
    config, out = _config(tmp_path), tmp_path / "specs"
    result = axis("import", "ssh-config", str(config), "--match", "zz*", "--out", str(out))
    assert result.code == 1
    assert error_lines(result.err) == [f"error: {config}: no alias matches 'zz*'"]
    assert not out.exists()
