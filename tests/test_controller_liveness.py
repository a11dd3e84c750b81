"""`axis get controller` tells a running controller from a dead one's last words.

The supervisor writes the controller's conditions on a change only, and a controller killed with
SIGKILL never writes that it stopped: its last stored Ready True used to be shown as if live.
Whether a controller runs is whether a process holds the controller lock (it dies with the
process), so that is what `get controller`, `describe controller` and `GET /controller` ask.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from axis.api.app import build_app
from axis.app.context import AppContext
from axis.reconcile.supervisor import Supervisor
from axis.state import Database

TOKEN = "t" * 20


def _served(state_db: Path | str) -> dict[str, Any]:
    with TestClient(build_app(AppContext(state=state_db), TOKEN), headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        answer = c.get("/controller")
    assert answer.status_code == 200
    return answer.json()


def test_a_stored_ready_true_without_a_live_controller_is_shown_not_running(axis, state_db):
    Supervisor(Database(state_db)).begin()  # Ready True, as a controller writes it; no one holds the lock

    as_json = json.loads(axis("get", "controller", "-o", "json").out)
    status = as_json["status"]
    assert status["running"] is None
    (ready,) = status["conditions"]
    assert (ready["type"], ready["status"], ready["reason"]) == ("Ready", "Unknown", "NotRunning")
    assert ready["message"].startswith("no controller holds the lock on this state DB; last seen 20")
    assert ready["message"].endswith("; its Ready was True (Running)")
    assert {c["type"]: c["status"] for c in status["lastRecorded"]}["Ready"] == "True"
    assert _served(state_db) == as_json

    table = axis("get", "controller")
    assert table.code == 0, table.err
    assert table.out.splitlines()[0].split() == ["Running:", "no"]
    live = table.out[:table.out.index("Last recorded")]
    assert [line.split()[:3] for line in live.splitlines() if line.split()[0] == "Ready"] == [
        ["Ready", "Unknown", "NotRunning"]]
    shown = axis("describe", "controller")
    assert "Running:      no" in shown.out and "NotRunning" in shown.out and "Events:" in shown.out


@pytest.mark.sqlite_only("liveness is the flock on the SQLite DB's controller lock file, gone with the killed process")
def test_a_live_controller_is_shown_running_and_after_sigkill_not_running(axis, state_db, tmp_path):
    specs = tmp_path / "specs"
    specs.mkdir()
    log = (tmp_path / "controller.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-c", "from axis.main import main; main()", "--state", str(state_db),
                             "controller", "--watch", str(specs)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            status = json.loads(axis("get", "controller", "-o", "json").out)["status"]
            ready = {c["type"]: c["status"] for c in status["conditions"]}.get("Ready")
            if status["running"] is not None and ready == "True":
                break
            assert proc.poll() is None, (tmp_path / "controller.log").read_text()
            assert time.monotonic() < deadline, f"the controller never showed running: {status}"
            time.sleep(0.2)
        assert status["running"]["pid"] == str(proc.pid)
        assert "lastRecorded" not in status
        table = axis("get", "controller")
        assert table.out.splitlines()[0].startswith(f"Running:      pid {proc.pid}, since ")
        assert _served(state_db)["status"]["running"]["pid"] == str(proc.pid)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)  # as the OOM killer would: no shutdown code runs
        proc.wait(30)
        log.close()
    status = json.loads(axis("get", "controller", "-o", "json").out)["status"]
    assert status["running"] is None
    assert [(c["type"], c["status"], c["reason"]) for c in status["conditions"]] == [("Ready", "Unknown", "NotRunning")]


def test_get_controller_and_leases_refuse_the_options_they_ignored(axis):
    for resource in ("controller", "leases"):
        for option, line in ((["-w"], "-w/--watch"), (["-l", "role=worker"], "-l/--selector")):
            result = axis("get", resource, *option)
            assert result.code != 0
            assert f"{line} does not apply to `axis get {resource}`" in result.err


@pytest.mark.sqlite_only("the controller lock file beside a SQLite DB")
def test_a_lock_file_this_user_cannot_read_is_one_line_naming_it(axis, state_db, monkeypatch):
    """A root controller's lock file is 0600: another user asking `get controller` gets the
    file and what to do, not a traceback (and the API a JSON error, not a text 500)."""
    from axis.state import lock
    from axis.state.errors import StateError

    lock_path = state_db.with_name(state_db.name + ".controller.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    lock_path.write_text("1\n")
    real_open = os.open

    def refusing(path, flags, *args):
        if Path(path) == lock_path:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(lock.os, "open", refusing)
    try:
        lock.controller_holder(state_db)
    except StateError as exc:
        assert str(lock_path) in str(exc) and "Permission denied" in str(exc)
    else:
        raise AssertionError("a lock file that cannot be read was taken for no controller")
