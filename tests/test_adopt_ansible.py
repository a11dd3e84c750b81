"""`axis import ansible` on one fleet written as an INI and as a YAML inventory, with children
groups, group vars, group_vars/ and host_vars/ beside it; errors at the line that holds them."""

from __future__ import annotations

from pathlib import Path

import pytest

from axis.adopt.ansible_inventory import expand
from tests.adoptkit import copied, error_lines, hosts_json, objects

WEB = {"ansible-group/prod": "true", "ansible-group/webservers": "true"}


def _import(axis, inventory: Path, out: Path):
    result = axis("import", "ansible", str(inventory), "--out", str(out))
    assert result.code == 0, result.err
    return objects(out)


@pytest.mark.parametrize("inventory", ["hosts.ini", "hosts.yml"])
def test_inventory_becomes_hosts_with_group_labels_and_resolved_vars(axis, tmp_path, inventory):
    root = copied("ansible", tmp_path)
    found = _import(axis, root / inventory, tmp_path / "specs")
    assert sorted(found) == ["Host/bastion-example-net", "Host/db-1", "Host/db-2", "Host/gpu-box",
                             "Host/web-canary-example-net", "Host/web01-example-net", "Host/web02-example-net",
                             "Host/web03-example-net"]
    assert found["Host/bastion-example-net"]["metadata"] == {"name": "bastion-example-net"}  # ungrouped: no label
    assert found["Host/bastion-example-net"]["spec"] == {"address": "bastion.example.net", "user": "jump",
                                                         "port": 2202}
    # prod's user reaches the webservers through children; group_vars/webservers/ gives become
    web01 = found["Host/web01-example-net"]
    assert web01["metadata"]["labels"] == WEB
    assert web01["spec"] == {"address": "web01.example.net", "user": "deploy", "sudo": True}
    # host_vars/ beats every group's vars
    assert found["Host/web02-example-net"]["spec"]["user"] == "web02admin"
    assert found["Host/web-canary-example-net"]["spec"]["address"] == "10.0.1.50"
    assert found["Host/db-1"]["spec"] == {"address": "10.0.2.11", "user": "deploy", "sudo": True}
    assert found["Host/db-1"]["metadata"]["labels"] == {"ansible-group/prod": "true", "ansible-group/dbservers": "true"}
    assert found["Host/gpu-box"]["spec"] == {"address": "10.0.3.20", "user": "root", "port": 2222}

    applied = axis("apply", "--no-converge", "-f", str(tmp_path / "specs"))
    assert applied.code == 0, applied.err
    assert len(hosts_json(axis)) == 8


def test_ini_and_yaml_inventories_of_one_fleet_give_the_same_specs(axis, tmp_path):
    root = copied("ansible", tmp_path)
    assert _import(axis, root / "hosts.ini", tmp_path / "a") == _import(axis, root / "hosts.yml", tmp_path / "b")


@pytest.mark.parametrize(("line", "replace", "expected"), [
    ("[gpu]", "[gpu]\ngpu-2 ansible_ssh_private_key_file=~/.ssh/gpu",
     "{path}:13: ansible_ssh_private_key_file: '~/.ssh/gpu' for gpu-2: axis has no such setting; put how to "
     "reach the host in ~/.ssh/config (axis reads it)"),
    ("[gpu]", "[gpu]\nlaptop ansible_connection=local",
     "{path}:13: ansible_connection: 'local' for laptop: only ssh, smart, paramiko, paramiko_ssh is what axis does"),
    ("ntp_server=ntp.example.net", "ntp_server=ntp.example.net\nansible_port={{ prod_port }}",
     "{path}:22: ansible_port: '{{{{ prod_port }}}}' is a Jinja template; axis reads values, not templates (for web01.example.net)"),
    ("[prod:children]", "[prod:members]\n[prod:children]",
     "{path}:15: unknown section kind :members (Ansible knows :hosts, :vars and :children)"),
    ("[gpu]", "[gpu]\nweb[3:1]", "{path}:13: host range [3:1] is empty: its start is after its end"),
    ("dbservers\n", "dbservers\n[webservers:children]\nprod\n",
     "{path}:4: group 'webservers' is its own child (webservers → prod → webservers)"),
])
def test_what_axis_cannot_use_is_one_line_at_its_place_and_nothing_is_written(axis, tmp_path, line, replace, expected):
    root = copied("ansible", tmp_path)
    inventory = root / "hosts.ini"
    inventory.write_text(inventory.read_text().replace(line, replace, 1))
    result = axis("import", "ansible", str(inventory), "--out", str(tmp_path / "specs"))
    assert result.code == 1
    assert error_lines(result.err)[0] == "error: " + expected.format(path=inventory)
    assert not (tmp_path / "specs").exists()


def test_a_vault_file_and_a_bad_value_in_group_vars_are_reported_where_they_are(axis, tmp_path):
    root = copied("ansible", tmp_path)
    (root / "group_vars" / "dbservers.yml").write_text("$ANSIBLE_VAULT;1.1;AES256\n6162636465\n")
    (root / "group_vars" / "webservers" / "main.yml").write_text("http_port: 80\nansible_become: maybe\n")
    result = axis("import", "ansible", str(root / "hosts.yml"), "--stdout")
    assert result.code == 1
    lines = error_lines(result.err)
    assert f"error: {root / 'group_vars' / 'dbservers.yml'}:1: encrypted with ansible-vault: axis cannot read it; " \
           "move the connection variables (ansible_host, ansible_user, ...) out of the vault" in lines
    assert f"error: {root / 'group_vars' / 'webservers' / 'main.yml'}:2: ansible_become: 'maybe' is not a boolean " \
           "Ansible reads (for web01.example.net)" in lines


def test_yaml_inventory_structure_errors_name_the_key(axis, tmp_path):
    path = tmp_path / "inv.yml"
    path.write_text("all:\n  hosts:\n    a:\n  childs:\n    b: {}\n")
    result = axis("import", "ansible", str(path), "--stdout")
    assert error_lines(result.err) == [f"error: {path}:4: childs: unknown key in group 'all' "
                                       "(Ansible reads hosts, vars, children)"]


def test_host_ranges_expand_as_ansible_does():
    assert expand("web[01:03].lan") == ["web01.lan", "web02.lan", "web03.lan"]
    assert expand("db-[a:c]") == ["db-a", "db-b", "db-c"]
    assert expand("n[0:10:5]-[1:2]") == ["n0-1", "n0-2", "n5-1", "n5-2", "n10-1", "n10-2"]
    with pytest.raises(ValueError, match="both ends numbers"):
        expand("x[1:b]")


def test_the_older_ssh_spellings_win_when_both_are_set_and_ansible_sudo_is_ignored(axis, tmp_path):
    """As ansible-core resolves them: ansible_ssh_host/_port/_user beat ansible_host/_port/_user
    (whichever level set each), and ansible_sudo does nothing (only ansible_become does)."""
    inventory = tmp_path / "hosts.ini"
    inventory.write_text("[web]\n"
                         "web1 ansible_host=10.0.0.1 ansible_ssh_host=10.0.0.2 ansible_port=22 ansible_ssh_port=2222 "
                         "ansible_user=new ansible_sudo=yes\n"
                         "[web:vars]\nansible_ssh_user=old\n")
    out = tmp_path / "specs"
    found = _import(axis, inventory, out)
    assert found["Host/web1"]["spec"] == {"address": "10.0.0.2", "user": "old", "port": 2222}
    assert f"# ansible_sudo ({inventory}:2) left out: ansible-core ignores it (only ansible_become makes it use " \
           "sudo)\n" in (out / "host-web1.yaml").read_text()


def test_vars_files_are_found_as_ansible_finds_them(axis, tmp_path):
    """Only the first of NAME, NAME.yml, NAME.yaml, NAME.json is read (a directory NAME/ counts as
    NAME); in a directory, hidden and backup files are skipped and subdirectories are walked."""
    root = copied("ansible", tmp_path)
    group_vars, host_vars = root / "group_vars", root / "host_vars"
    (group_vars / "webservers.yml").write_text("ansible_user: after-the-directory\n")  # webservers/ comes first
    (group_vars / "webservers" / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1\x00\xff")
    (group_vars / "webservers" / "main.yml~").write_text("ansible_become: maybe\n")
    (group_vars / "webservers" / "deeper").mkdir()
    (group_vars / "webservers" / "deeper" / "ports.yml").write_text("ansible_port: 2200\n")
    (group_vars / "dbservers.yaml").write_text("ansible_user: dbadmin\n")
    (group_vars / "dbservers.json").write_text('{"ansible_user": "after-the-yaml"}\n')
    (host_vars / "web02.example.net").write_text("ansible_user: plain-name-first\n")
    found = _import(axis, root / "hosts.ini", tmp_path / "specs")
    assert found["Host/web01-example-net"]["spec"] == {"address": "web01.example.net", "user": "deploy",
                                                       "port": 2200, "sudo": True}
    assert found["Host/db-1"]["spec"]["user"] == "dbadmin"
    assert found["Host/web02-example-net"]["spec"]["user"] == "plain-name-first"


def test_an_inventory_without_hosts_is_an_error_and_creates_nothing(axis, tmp_path):
    inventory, out = tmp_path / "hosts.ini", tmp_path / "specs"
    inventory.write_text("[web]\n[web:vars]\nansible_user=deploy\n")
    result = axis("import", "ansible", str(inventory), "--out", str(out))
    assert (result.code, error_lines(result.err)) == (1, [f"error: {inventory}: no hosts in this inventory: "
                                                          "nothing to import"])
    assert not out.exists()
