"""The controller's and the server's log (`axis.app.log_output`): human lines as they always
were, `--log-format json` one object per line with each line's facts as keys, both escaped."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from axis.app.log_output import LogFormat
from axis.reconcile.controller import Controller
from axis.reconcile.owned_pass import converge_owned
from axis.state import Database
from tests.conftest import HOST
from tests.fake_transport import FakeConnector
from tests.servekit import ROOT, stop_serve

HOSTILE = "axis-t1: refused: \x1b]0;owned\x07 \x9b2J \u202eevil"


def _json_lines(err: str) -> list[dict[str, object]]:
    """Every line of `err` as a JSON object (a line that is not one fails the test)."""
    lines = [json.loads(line) for line in err.splitlines()]
    assert all(isinstance(line, dict) for line in lines), err
    return lines


def test_human_lines_are_the_time_and_the_message_escaped(capsys, stderr_log):
    stderr_log(LogFormat.human)
    before = time.strftime("%H:%M:%S")
    logging.getLogger("axis.reconcile.controller").info("%s: converged (%d step(s))", "a", 2,
                                                        extra={"host": "a", "steps": 2})
    logging.getLogger("axis.reconcile.controller").warning(HOSTILE)
    err = capsys.readouterr().err
    first, second = err.splitlines()
    assert re.fullmatch(r"\d\d:\d\d:\d\d a: converged \(2 step\(s\)\)", first) and first[:8] >= before
    assert second[9:] == "axis-t1: refused: \\x1b]0;owned\\x07 \\x9b2J \\u202eevil"  # no level, no fields
    assert err.count("\n") == 2


def test_json_lines_carry_time_level_logger_message_and_the_fields(capsys, stderr_log):
    stderr_log(LogFormat.json)
    logging.getLogger("axis.reconcile.controller").warning(
        "%s: failed: %s; retry in %ss", "a", HOSTILE, "5",
        extra={"host": "a", "result": "failed", "error": HOSTILE, "retry_in": 5.0, "state": Path("/s/db")})
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\x9b" not in err and "\u202e" not in err and err.count("\n") == 1
    [line] = _json_lines(err)
    assert list(line)[:4] == ["time", "level", "logger", "message"]
    stamp = datetime.fromisoformat(str(line["time"]))
    assert stamp.utcoffset() == timedelta(0) and abs(stamp - datetime.now(UTC)) < timedelta(seconds=30)
    assert {k: v for k, v in line.items() if k != "time"} == {
        "level": "WARNING", "logger": "axis.reconcile.controller", "message": f"a: failed: {HOSTILE}; retry in 5s",
        "host": "a", "result": "failed", "error": HOSTILE, "retry_in": 5.0, "state": "/s/db"}


def test_a_json_traceback_stays_in_its_line(capsys, stderr_log):
    stderr_log(LogFormat.json)
    try:
        raise KeyError("boom")
    except KeyError:
        logging.getLogger("axis.api").exception("GET /x failed", extra={"method": "GET", "path": "/x"})
    [line] = _json_lines(capsys.readouterr().err)
    assert line["message"] == "GET /x failed" and (line["method"], line["path"]) == ("GET", "/x")
    assert "KeyError: 'boom'" in str(line["traceback"]) and str(line["traceback"]).startswith("Traceback")


def test_debug_sets_the_level_and_a_second_call_replaces_the_format(capsys, stderr_log):
    stderr_log(LogFormat.human, debug=True)
    assert logging.getLogger("axis").level == logging.DEBUG
    stderr_log(LogFormat.json)
    assert logging.getLogger("axis").level == logging.INFO
    logging.getLogger("axis.x").debug("hidden")
    logging.getLogger("axis.x").info("shown")
    assert [line["message"] for line in _json_lines(capsys.readouterr().err)] == ["shown"]  # once, as JSON


def test_a_log_line_that_cannot_be_written_does_not_raise(monkeypatch, stderr_log):
    """A stopping controller may log to a stderr that is already closed: nothing raises."""
    stderr_log(LogFormat.human)
    closed = open(Path(__file__))  # noqa: SIM115 - closed at once: writing to it raises ValueError
    closed.close()
    monkeypatch.setattr(sys, "stderr", closed)
    logging.getLogger("axis.reconcile.controller").info("stopped")


def test_the_controllers_lines_carry_their_facts_as_fields(state_db, specs, capsys, stderr_log):
    stderr_log(LogFormat.json)
    watch = specs({"h.yaml": HOST.format(name="a")})
    controller = Controller(Database(state_db), FakeConnector({}, dead=frozenset({"a"})), watch)
    controller.apply_specs()
    asyncio.run(converge_owned(controller.db, "a", controller._slots["a"], controller.connector, source=controller.source,
                               resync=controller.resync, fence=lambda _session: None, stop=asyncio.Event()))
    (watch / "h.yaml").write_text("kind: Hots\n")
    controller.apply_specs()
    lines = _json_lines(capsys.readouterr().err)
    created, failed, spec_error, summary = lines
    assert (created["message"], created["kind"], created["object"], created["action"]) == (
        "host/a created", "Host", "a", "created")
    refused = "a: unreachable: connection refused by host (is sshd running?)"
    assert failed["message"] == f"a: failed: {refused}; retry in 5s"
    assert (failed["level"], failed["host"], failed["result"], failed["retry_in"]) == ("WARNING", "a", "failed", 5.0)
    assert failed["error"] == refused
    assert spec_error["level"] == "ERROR" and str(spec_error["message"]).startswith(f"spec error: {watch / 'h.yaml'}:1")
    assert (spec_error["file"], spec_error["line"]) == (str(watch / "h.yaml"), 1)
    assert (summary["message"], summary["errors"]) == ("1 error(s); the last good desired state stays in force", 1)


@pytest.mark.parametrize("command", ["controller", "serve"])
def test_the_log_format_option_is_in_the_help(axis, command):
    r = axis(command, "--help")
    assert r.code == 0 and "--log-format" in r.out and "json" in r.out


def test_axis_controller_logs_json_from_start_to_stop(state_db, specs, closed_port):
    """The real command: every line of its stderr, signal and stop included, is one JSON object."""
    watch = specs({"h.yaml": HOST.format(name="a").replace("address: a.lan", f"address: 127.0.0.1\n  port: {closed_port}")})
    proc = subprocess.Popen([sys.executable, "-m", "axis", "--state", str(state_db), "controller",
                             "--watch", str(watch), "--log-format", "json"], stderr=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stderr is not None
    seen = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(line.get("result") == "failed" for line in seen):
            seen += _json_lines(proc.stderr.readline())
        proc.send_signal(signal.SIGTERM)
        seen += _json_lines(proc.stderr.read())
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    messages = [line["message"] for line in seen]
    watching = next(line for line in seen if str(line["message"]).startswith("controller watching"))
    assert (watching["watch"], watching["resync"], watching["jobs"]) == (str(watch), 60, 16)
    failed = next(line for line in seen if line.get("result") == "failed")
    assert failed["host"] == "a" and failed["logger"] == "axis.reconcile.controller"
    assert "signal received: finishing the steps in flight (signal again to cancel them)" in messages
    assert messages[-1] == "stopped"


def test_axis_serve_logs_json_uvicorns_lines_too(serving, api_token_file):
    proc, url = serving("--log-format", "json")
    token = api_token_file.read_text().strip()
    assert httpx.get(f"{url}/health", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:  # not HTTP: uvicorn logs a warning
        sock.sendall(b"\x16\x03\x01 not http\r\n\r\n")
        sock.recv(1024)
    code, err = stop_serve(proc)
    assert code == 0
    lines = _json_lines(err)
    assert [(line["logger"], line["level"]) for line in lines] == [("uvicorn.error", "WARNING"),
                                                                   ("axis.api.http_server", "INFO")]
    assert lines[-1]["message"] == "signal received: stopping"
