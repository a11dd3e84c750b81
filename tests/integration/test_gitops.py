"""`axis controller --git`: the fleet follows a branch of a real git remote, a bare repo served
over SSH by a test host and fetched with strict host keys. Commits pushed converge the hosts; a
broken commit stalls with its path:line while the last good revision stays in force and the next
commit recovers; a force-push is applied and said so; a remote gone keeps the revision in force
and drift repair goes on; under --verify-signatures an unsigned commit is refused."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from typing import Any

import pytest

from axis.drivers.features.panic_recovery import PATH as PANIC_CONF
from tests.integration.controlkit import AXIS, controller_workdir, panic_conf, query, wait_for
from tests.integration.fleetspecs import host_specs, say
from tests.integration.gitkit import Remote, serve_repo, signing_key

pytestmark = pytest.mark.hosts

#: The poll interval of these tests; AXIS_GITOPS_INTERVAL=10s measures push-to-converged at 10 s.
INTERVAL = os.environ.get("AXIS_GITOPS_INTERVAL", "2s")
WAIT = 30 + 2 * float(INTERVAL.rstrip("s"))
BROKEN = "apiVersion: axis/v1\nkind: Host\nmetadata: {name: x}\nspec: {address: x.example, bogus: 1}\n"


def _follow(fleet, remote: Remote, work, *extra: str) -> subprocess.Popen[bytes]:
    with work.log.open("a") as out:
        proc = subprocess.Popen([*AXIS, "--state", str(work.state), "--ssh-config", str(fleet.ssh_config),
                                 "controller", "--git", remote.url, "--ref", "main", "--path", "specs",
                                 "--interval", INTERVAL, "--resync", "3s", *extra], stdout=out, stderr=subprocess.STDOUT)
    work.procs.append(proc)
    return proc


def _panic(fleet, seconds: int) -> str:
    return host_specs(fleet, features=f"{{panicRecovery: {{panicSeconds: {seconds}}}}}")


def _at(fleet, seconds: int) -> bool:
    return all(f"kernel.panic = {seconds}" in panic_conf(h) for h in fleet.hosts)


def _rows(work, sql: str, *args: object) -> list[tuple[Any, ...]]:
    """`query`, or no rows while the controller has not made its DB yet (connecting here would
    make an empty file) or has not migrated it."""
    if not work.state.exists():
        return []
    try:
        return query(work.state, sql, *args)
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return []
        raise


def _condition(work, type: str) -> tuple[str, str, str]:
    rows = _rows(work, "SELECT status, reason, message FROM conditions WHERE kind='Source' AND name='fleet' "
                       "AND type=?", type)
    return rows[0] if rows else ("", "", "")


def _applied(work) -> str:
    rows = _rows(work, "SELECT last_applied FROM sources WHERE name='fleet'")
    return rows[0][0] if rows else ""


def _ready_at(work, sha: str) -> bool:
    return _applied(work) == f"main@sha1:{sha}" and _condition(work, "Ready")[:2] == ("True", "Succeeded")


def test_commits_converge_a_broken_commit_stalls_and_the_next_recovers(fleet, tmp_path):
    remote = serve_repo(fleet, tmp_path)
    first = remote.commit({"specs/hosts.yaml": _panic(fleet, 5), "README.md": "not a spec dir\n"}, "five")
    remote.push()
    with controller_workdir(fleet, tmp_path) as work:
        proc = _follow(fleet, remote, work)
        wait_for(lambda: _at(fleet, 5) and _ready_at(work, first), WAIT, "the first commit to converge")

        broken = remote.commit({"specs/broken.yaml": BROKEN, "specs/hosts.yaml": _panic(fleet, 7)}, "broken")
        remote.push()
        wait_for(lambda: _condition(work, "Stalled")[:2] == ("True", "SpecInvalid"), WAIT, "the broken commit to stall")
        status, reason, message = _condition(work, "Ready")
        assert (status, reason) == ("False", "SpecInvalid")
        assert f"main@sha1:{broken}: specs/broken.yaml:4: Host/x: spec.bogus" in message, message
        assert f"in force: main@sha1:{first}" in message
        assert _applied(work) == f"main@sha1:{first}"
        time.sleep(1)
        assert _at(fleet, 5)  # nothing of the broken commit reached a host

        fixed = remote.commit({"specs/broken.yaml": None, "specs/hosts.yaml": _panic(fleet, 6)}, "six")
        remote.push()
        pushed = time.monotonic()
        wait_for(lambda: _at(fleet, 6), WAIT, "the fix to converge")
        say(f"git push to 3 hosts converged at --interval {INTERVAL}: {time.monotonic() - pushed:.1f}s")
        wait_for(lambda: _ready_at(work, fixed), 15, "the source Ready at the fix")
        assert _condition(work, "Stalled")[0] == "False"
        hosts = dict(query(work.state, "SELECT host, revision FROM host_revisions"))
        assert hosts == {h.name: f"main@sha1:{fixed}" for h in fleet.hosts}

        remote.rewind(first)
        remote.push(force=True)
        wait_for(lambda: _at(fleet, 5) and _ready_at(work, first), WAIT, "the force-pushed rewind to converge")
        notes = [n for (n,) in query(work.state, "SELECT note FROM source_attempts WHERE revision=? ORDER BY id DESC",
                                     f"main@sha1:{first}")]
        assert notes[0].startswith(f"not a descendant of main@sha1:{fixed}: the ref was force-pushed"), notes

        history = query(work.state, "SELECT revision, result FROM source_attempts ORDER BY id")
        assert [r for _, r in history] == ["Converged", "SpecInvalid", "Converged", "Converged"], history
        assert [rev for rev, _ in history] == [f"main@sha1:{s}" for s in (first, broken, fixed, first)]

        kept = fleet.hosts[:2]
        fewer = remote.commit({"specs/hosts.yaml": host_specs(fleet, hosts=kept,
                                                              features="{panicRecovery: {panicSeconds: 5}}")}, "two")
        remote.push()
        wait_for(lambda: _ready_at(work, fewer), WAIT, "the commit without the third host to apply")
        stored = [n for (n,) in query(work.state, "SELECT name FROM objects WHERE kind='Host' ORDER BY name")]
        assert stored == sorted(h.name for h in kept)  # pruned: gone from the branch, gone from the DB
        shown = subprocess.run([*AXIS, "--state", str(work.state), "get", "sources", "-o", "json"],
                               capture_output=True, text=True, timeout=30)
        item = json.loads(shown.stdout)["items"][0]
        assert (item["name"], item["lastAppliedRevision"]) == ("fleet", f"main@sha1:{fewer}"), shown.stdout
        assert [c["reason"] for c in item["conditions"] if c["type"] == "Ready"] == ["Succeeded"]

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, work.log.read_text()


def test_remote_gone_keeps_the_revision_in_force_and_drift_is_still_repaired(fleet, tmp_path):
    remote = serve_repo(fleet, tmp_path)
    first = remote.commit({"specs/hosts.yaml": _panic(fleet, 5)}, "five")
    remote.push()
    with controller_workdir(fleet, tmp_path) as work:
        _follow(fleet, remote, work)
        wait_for(lambda: _at(fleet, 5) and _ready_at(work, first), WAIT, "the first commit to converge")
        remote.server.stop_sshd()
        wait_for(lambda: _condition(work, "Ready")[:2] == ("False", "FetchFailed"), WAIT, "FetchFailed")
        assert "connection refused" in _condition(work, "Ready")[2].lower(), _condition(work, "Ready")
        assert _applied(work) == f"main@sha1:{first}"
        victim = fleet.hosts[1]
        victim.exec(f"rm {PANIC_CONF}")
        wait_for(lambda: "kernel.panic = 5" in panic_conf(victim), 20, "drift repaired while the remote is gone")
        remote.server.start_sshd()
        wait_for(lambda: _condition(work, "Ready")[:2] == ("True", "Succeeded"), 60, "Ready again once it is back")
        reasons = [r for (r,) in query(work.state, "SELECT reason FROM events WHERE kind='Source' ORDER BY id")]
        assert reasons.count("FetchFailed") == 1, reasons  # one event for the outage, not one per retry


def test_verify_signatures_applies_signed_commits_and_refuses_an_unsigned_one(fleet, tmp_path):
    remote = serve_repo(fleet, tmp_path)
    key, allowed = signing_key(tmp_path, "release")
    (tmp_path / "allowed_signers").write_text(allowed)
    signed = remote.commit({"specs/hosts.yaml": _panic(fleet, 5)}, "five, signed", signing_key=key)
    remote.push()
    with controller_workdir(fleet, tmp_path) as work:
        _follow(fleet, remote, work, "--verify-signatures", str(tmp_path / "allowed_signers"))
        wait_for(lambda: _at(fleet, 5) and _ready_at(work, signed), WAIT, "the signed commit to converge")

        unsigned = remote.commit({"specs/hosts.yaml": _panic(fleet, 8)}, "eight, unsigned")
        remote.push()
        wait_for(lambda: _condition(work, "Stalled")[:2] == ("True", "VerificationFailed"), WAIT, "the refusal")
        assert f"main@sha1:{unsigned}" in _condition(work, "Ready")[2]
        assert _applied(work) == f"main@sha1:{signed}"
        time.sleep(1)
        assert _at(fleet, 5)

        other, _ = signing_key(tmp_path, "stranger")
        stranger = remote.commit({"specs/hosts.yaml": _panic(fleet, 9)}, "nine, signed by a stranger",
                                 signing_key=other)
        remote.push()
        # (while it is verified, Ready already names the commit: Progressing; wait for the refusal itself)
        wait_for(lambda: _condition(work, "Ready")[1] == "VerificationFailed"
                 and f"main@sha1:{stranger}" in _condition(work, "Ready")[2], WAIT, "the stranger's refusal")
        assert _condition(work, "Stalled")[:2] == ("True", "VerificationFailed") and _at(fleet, 5)


def test_an_unknown_host_key_on_the_remote_is_refused(fleet, tmp_path):
    remote = serve_repo(fleet, tmp_path)
    remote.commit({"specs/hosts.yaml": _panic(fleet, 5)}, "five")
    remote.push()
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with controller_workdir(fleet, tmp_path) as work:
        with work.log.open("a") as out:
            work.procs.append(subprocess.Popen(
                [*AXIS, "--state", str(work.state), "--ssh-config", str(fleet.ssh_config), "--known-hosts", str(empty),
                 "controller", "--git", remote.url, "--path", "specs", "--interval", INTERVAL],
                stdout=out, stderr=subprocess.STDOUT))
        wait_for(lambda: _condition(work, "Ready")[:2] == ("False", "FetchFailed"), WAIT, "the refusal")
        assert "host key verification failed" in _condition(work, "Ready")[2].lower(), _condition(work, "Ready")
        assert _applied(work) == "" and all(panic_conf(h) == "" for h in fleet.hosts)
