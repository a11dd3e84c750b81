"""Host data cannot forge the facts script's section markers (issue 16, T1 item 3), on a real
sshd host: tmpfs mounts at directories named like markers (the old protocol's, the new syntax
with guessed boundaries, one that a newline would start a line with; a marker as the mount's
source too) show in `df` and /proc/mounts, and `axis status` still reports the host's OS,
hostname and tools."""

from __future__ import annotations

import json
import shlex
import subprocess

import pytest

from axis.drivers.facts import build_script, parse_facts
from axis.drivers.facts.sections import split_sections
from tests.integration.fleetspecs import fleet_axis, host_specs

pytestmark = pytest.mark.hosts

GUESS = "f" * 32  # a boundary the host might guess (it cannot know the run's)
MOUNTS = [
    "/tmp/m@@axis:section:uname",
    f"/tmp/m@@axis:{GUESS}:section:tools",
    f"/tmp/n\n@@axis:{GUESS}:end:df rc=0",
]
SOURCE = f"@@axis:{GUESS}:done"


def _mount(host, paths: list[str]) -> None:
    for path in paths:
        q = shlex.quote(path)
        host.exec(f"mkdir -p {q} && mount -t tmpfs -o size=1m {shlex.quote(SOURCE)} {q}")


def _unmount(host, paths: list[str]) -> None:
    for path in paths:
        q = shlex.quote(path)
        host.exec(f"umount {q}; rmdir {q}", check=False)


def test_marker_named_mount_points_do_not_change_the_hosts_facts(fleet, axis, specs):
    host = fleet.hosts[0]
    run = fleet_axis(fleet, axis)
    assert run("apply", "--no-converge", "-f", str(specs({"h.yaml": host_specs(fleet, hosts=[host])}))).code == 0
    clean = run("status", "-o", "json")
    assert clean.code == 0, clean.err
    before = json.loads(clean.out)["hosts"][0]["facts"]
    _mount(host, MOUNTS)
    try:
        mounts = host.exec("cat /proc/mounts").stdout
        assert "/tmp/m@@axis:section:uname" in mounts and f"{SOURCE} /tmp/m@@axis:{GUESS}" in mounts
        r = run("status", "-o", "json")
        assert r.code == 0, r.err
        view = json.loads(r.out)["hosts"][0]
        assert view["status"] == "complete", view["reason"]
        facts = view["facts"]
        assert facts["os"] == before["os"] and facts["os"]["distro"] == "debian"
        assert facts["hostname"] == host.name
        assert facts["tools"] == before["tools"] and facts["tools"]["python3"]
        assert facts["memory"]["total_bytes"] == before["memory"]["total_bytes"]
        assert facts["root_disk"]["size_bytes"] == before["root_disk"]["size_bytes"]
        assert facts["missing"] == before["missing"]

        # the same script over plain OpenSSH: the hostile names arrive as data of their sections
        script = build_script()
        out = subprocess.run(["ssh", "-F", str(fleet.ssh_config), host.name, "sh -s"], input=script.text,
                             capture_output=True, text=True, timeout=60).stdout
        sections = split_sections(out, script.boundary).sections
        assert [ln for ln in sections["mounts"].lines if ln.startswith(SOURCE)], sections["mounts"].text
        assert any("/tmp/m@@axis:section:uname" in ln for ln in sections["df"].lines)
        assert sections["uname"].lines[-1] == host.name and sections["df"].rc == 0
        parsed = parse_facts(out, script.boundary)
        assert parsed.status == "complete" and not parsed.notes and parsed.tools["python3"]
    finally:
        _unmount(host, MOUNTS)
