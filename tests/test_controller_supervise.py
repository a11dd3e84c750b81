"""The controller survives an unexpected exception in any of its parts (issue 16, item 4).

Each test injects a failure into one part of a running controller (spec watcher, spec apply,
host pass, claims pass, DB poll) and checks what an operator would: a log line with the
exception's type, a Warning event, the part's condition on Controller/controller, the part
running again after its backoff (condition True again), and a good spec edit still applied.
No host is contacted: connecting answers "connection refused", a normal failed pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from axis.drivers.connector import Connector
from axis.drivers.transport import ErrorKind, TransportError
from axis.reconcile import controller as controller_module, host_slot, spec_watch, supervisor as supervisor_module
from axis.reconcile.controller import Controller
from axis.reconcile.supervisor import CRASH_LOOP, Part, Supervisor, describe, restart_delay
from axis.specs import Host
from axis.state import Database
from axis.state.conditions import conditions_of
from axis.state.events import list_events
from axis.state.objects import list_rows
from tests.backend import controller_stand_in
from tests.conftest import HOST

CLAIM = """
apiVersion: axis/v1
kind: Claim
metadata: {name: job}
spec: {task: build, requires: {memory: 1Gi}, ttl: 10m}
"""


class Refused:
    """A fake Connector: every host answers "connection refused", so a pass ends normally (failed,
    unreachable). `inject` makes the next connects raise that exception instead, as a bug in a pass would."""

    def __init__(self) -> None:
        self.connects: list[str] = []
        self.inject: list[BaseException] = []

    async def connect(self, host: Host) -> Any:
        self.connects.append(host.metadata.name)
        if self.inject:
            raise self.inject.pop(0)
        raise TransportError(ErrorKind.UNREACHABLE, host.metadata.name, "connection refused by host")


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Restarts after 0.2 s (doubling) instead of 1 s, host retries after 0.3 s instead of 5 s."""
    monkeypatch.setattr(supervisor_module, "RESTART_BASE", 0.2)
    monkeypatch.setattr(host_slot, "BACKOFF_BASE", 0.3)


def _condition(db: Database, type: str, kind: str = "Controller", name: str = "controller") -> Any:
    with db.read() as session:
        return next((c for c in conditions_of(session, kind, name) if c.type == type), None)


def _events(db: Database, reason: str, kind: str = "Controller") -> list[Any]:
    with db.read() as session:
        return [e for e in list_events(session, kind=kind) if e.reason == reason]


def _hosts(db: Database) -> list[str]:
    with db.read() as session:
        return [r.name for r in list_rows(session, "Host")]


async def _until(predicate: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout  # generous: a loaded 2-core machine
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)


class Running:
    """A controller running in this event loop on a temp state DB; `stop()` returns what `run`
    returned (the parts failing at stop)."""

    def __init__(self, state: Path | str, watch: Path, ssh: Connector | None = None):
        self.watch = watch
        self.db = Database(state)
        self.ssh = ssh or Refused()
        self.controller = Controller(self.db, self.ssh, watch, resync=600)
        self._stop = asyncio.Event()
        self.task: asyncio.Task[list[str]] | None = None

    def start(self) -> None:
        self.controller.load_watched()
        self.task = asyncio.create_task(self.controller.run(self._stop))

    async def stop(self) -> list[str]:
        assert self.task is not None
        self._stop.set()
        return await asyncio.wait_for(self.task, 30)

    async def edit(self, name: str, text: str, applied: Callable[[], bool], what: str) -> None:
        """Write a spec file and wait until the controller has stored it."""
        (self.watch / name).write_text(text)
        await _until(applied, what)


#: What each part calls that a test can make raise: (module or class, attribute).
SEAMS: dict[Part, tuple[object, str]] = {
    Part.CLAIMS: (controller_module, "bind_claims"),
    Part.STORE_POLL: (Controller, "_notice_stored"),
    Part.SPECS: (controller_module, "load_specs"),
    Part.WATCHER: (spec_watch, "awatch"),
}


def arm(monkeypatch: pytest.MonkeyPatch, part: Part, armed: list[BaseException]) -> None:
    """Make `part`'s seam raise the exceptions in `armed`, one a call, as a bug in it would;
    once `armed` is empty (a test may add to it at any time) the real one runs again."""
    owner, name = SEAMS[part]
    real = getattr(owner, name)

    def raising(*args: Any, **kwargs: Any) -> Any:
        if armed:
            raise armed.pop(0)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, raising)


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "axis.reconcile.supervisor" and r.levelno == logging.ERROR]


def test_a_spec_apply_that_raises_keeps_the_last_good_state_and_the_next_good_edit_is_applied(
        state_db, specs, monkeypatch, caplog):
    """The watcher's apply raises (as the loader did on 3,000 nested brackets): logged with the
    type, Warning event, SpecApply False, retried with backoff until it is reported as a crash
    loop; the hosts stored before stay; the next good edit is applied at once and all is True."""
    caplog.set_level(logging.INFO, logger="axis")
    watch = specs({"h.yaml": HOST.format(name="a")})
    real = controller_module.load_specs

    def loader(paths: list[Path]) -> Any:
        if "boom" in (watch / "h.yaml").read_text():
            raise RecursionError("maximum recursion depth exceeded while calling a Python object")
        return real(paths)

    monkeypatch.setattr(controller_module, "load_specs", loader)

    async def scenario() -> list[str]:
        run = Running(state_db, watch)
        run.start()
        await _until(lambda: (c := _condition(run.db, "SpecApply")) is not None and c.status == "True",
                     "the watcher's condition")
        (watch / "h.yaml").write_text("# boom\n" + HOST.format(name="b"))
        await _until(lambda: len(_events(run.db, "InternalError")) >= CRASH_LOOP, "retries of the failed apply")
        looping = _condition(run.db, "SpecApply")
        ready = _condition(run.db, "Ready")
        assert (looping.status, looping.reason) == ("False", "CrashLoopBackOff"), looping
        assert looping.message.startswith("RecursionError: maximum recursion depth exceeded")
        assert (ready.status, ready.reason, ready.message) == ("False", "PartsFailing", "failing: SpecApply")
        assert _hosts(run.db) == ["a"]  # the last good desired state stays in force
        failed_at = looping.last_transition

        await run.edit("h.yaml", HOST.format(name="c"), lambda: _hosts(run.db) == ["c"], "the good edit")
        await _until(lambda: _condition(run.db, "SpecApply").status == "True", "SpecApply True again")
        back = _condition(run.db, "SpecApply")
        assert back.reason == "Running" and back.last_transition > failed_at
        assert _condition(run.db, "Ready").status == "True"
        (recovered,) = _events(run.db, "Recovered")
        assert recovered.type == "Normal" and recovered.message.startswith("SpecApply: running again after ")
        return await run.stop()

    assert asyncio.run(scenario()) == []  # healthy when stopped
    errors = _errors(caplog)
    assert errors[0] == ("SpecApply: internal error: RecursionError: maximum recursion depth exceeded while "
                         "calling a Python object; failed 1 time(s) in a row, retry in 0.2s")
    assert errors[1].endswith("failed 2 time(s) in a row, retry in 0.4s")  # backoff doubles


async def _never_changes(path: Path, *, stop_event: asyncio.Event, **_kw: Any) -> AsyncIterator[set[Any]]:
    """A file watcher that reports no change (its quiet ticks only): a spec only gets in by the
    restart's re-read."""
    while not stop_event.is_set():
        yield set()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(0.2):
                await stop_event.wait()


def _watch_limit_first(calls: list[int], then: Callable[..., AsyncIterator[set[Any]]]) -> Callable[..., AsyncIterator[set[Any]]]:
    """A fake `awatch` whose first start fails (inotify's watch limit) and whose later starts are
    `then`; `calls` counts the starts."""
    def awatch(path: Path, **kw: Any) -> AsyncIterator[set[Any]]:
        calls.append(1)
        if len(calls) == 1:
            raise OSError(28, "inotify watch limit reached")
        return then(path, **kw)
    return awatch


def test_a_crashed_file_watcher_restarts_and_rereads_the_directory(state_db, specs, monkeypatch, caplog):
    caplog.set_level(logging.INFO, logger="axis")
    watch = specs({"h.yaml": HOST.format(name="a")})
    calls: list[int] = []

    monkeypatch.setattr(spec_watch, "awatch", _watch_limit_first(calls, _never_changes))
    monkeypatch.setattr(supervisor_module, "RESTART_BASE", 1.0)  # time to edit while it is down

    async def scenario() -> list[str]:
        run = Running(state_db, watch)
        run.start()
        await _until(lambda: _events(run.db, "InternalError"), "the crash to be recorded")
        down = _condition(run.db, "SpecWatcher")
        assert (down.status, down.reason) == ("False", "Restarting")
        assert down.message == "OSError: [Errno 28] inotify watch limit reached (1 in a row, retry in 1s)"
        (watch / "h.yaml").write_text(HOST.format(name="edited-while-down"))
        await _until(lambda: _hosts(run.db) == ["edited-while-down"], "the restart's re-read")
        await _until(lambda: _condition(run.db, "SpecWatcher").status == "True", "SpecWatcher True again")
        assert len(calls) == 2
        return await run.stop()

    assert asyncio.run(scenario()) == []
    assert _errors(caplog) == ["SpecWatcher: internal error: OSError: [Errno 28] inotify watch limit reached; "
                               "failed 1 time(s) in a row, retry in 1s"]


def test_a_host_pass_that_raises_is_recorded_on_the_host_and_runs_again(state_db, specs, caplog):
    caplog.set_level(logging.INFO, logger="axis")
    watch = specs({"h.yaml": HOST.format(name="a")})
    ssh = Refused()
    ssh.inject.append(KeyError("boom"))

    async def scenario() -> list[str]:
        run = Running(state_db, watch, ssh)
        run.start()
        await _until(lambda: _events(run.db, "InternalError", kind="Host"), "the crash to be recorded")
        part = _condition(run.db, "HostPasses")
        assert (part.status, part.reason) == ("False", "Restarting")
        assert part.message == "a: KeyError: 'boom' (1 in a row, retry in 0.3s)"
        (event,) = _events(run.db, "InternalError", kind="Host")
        assert (event.name, event.type) == ("a", "Warning")
        assert "KeyError: 'boom'" in event.message
        ready = _condition(run.db, "Ready", kind="Host", name="a")
        assert (ready.status, ready.reason) == ("False", "ControllerError")  # `axis get hosts` shows it

        await _until(lambda: len(ssh.connects) >= 2, "the pass to run again after its backoff")
        await _until(lambda: _condition(run.db, "HostPasses").status == "True", "HostPasses True again")
        assert _condition(run.db, "Ready", kind="Host", name="a").reason == "NotReady"  # the real pass's answer
        await run.edit("b.yaml", HOST.format(name="b"), lambda: "b" in ssh.connects, "the good edit's pass")
        return await run.stop()

    assert asyncio.run(scenario()) == []
    assert "a: internal error: KeyError: 'boom'; failed 1 time(s) in a row, retry in 0.3s" in _errors(caplog)


@pytest.mark.parametrize("part", [Part.CLAIMS, Part.STORE_POLL])
def test_a_periodic_part_that_raises_runs_again_after_backoff(state_db, specs, monkeypatch, caplog, part):
    """The claims pass (binding and lease sweep) and the once-a-second DB poll: each raises
    twice, is recorded and retried with a growing delay, then runs again; edits still apply."""
    caplog.set_level(logging.INFO, logger="axis")
    watch = specs({"h.yaml": HOST.format(name="a") + "---\n" + CLAIM})
    armed: list[BaseException] = []
    arm(monkeypatch, part, armed)
    failures: list[BaseException] = [ValueError("lease arithmetic") if part is Part.CLAIMS
                                     else sqlite3.OperationalError("disk I/O error") for _ in range(2)]

    async def scenario() -> list[str]:
        run = Running(state_db, watch)
        run.start()
        await _until(lambda: _condition(run.db, part.value) is not None, "the part's condition")
        armed.extend(failures)
        await _until(lambda: len(_events(run.db, "InternalError")) == 2, "two failures recorded")
        down = _condition(run.db, part.value)
        assert (down.status, down.reason) == ("False", "Restarting")
        await _until(lambda: _condition(run.db, part.value).status == "True", f"{part.value} True again")
        assert not armed
        await run.edit("b.yaml", HOST.format(name="b"), lambda: "b" in _hosts(run.db), "the good edit")
        return await run.stop()

    assert asyncio.run(scenario()) == []
    name = type(failures[0]).__name__
    assert _errors(caplog) == [
        f"{part.value}: internal error: {name}: {failures[0]}; failed 1 time(s) in a row, retry in 0.2s",
        f"{part.value}: internal error: {name}: {failures[0]}; failed 2 time(s) in a row, retry in 0.4s"]


def test_stopping_while_a_part_fails_says_so(state_db, specs, monkeypatch):
    """`run` returns the failing parts (the CLI exits 1 then) and Ready says Stopped with them."""
    watch = specs({"h.yaml": HOST.format(name="a")})

    def loader(paths: list[Path]) -> Any:
        raise OverflowError("int too large to convert to float")

    monkeypatch.setattr(controller_module, "load_specs", loader)

    async def scenario() -> list[str]:
        run = Running(state_db, watch)
        run.start()  # the first apply already raises: the controller starts, failing, and says so
        await _until(lambda: _events(run.db, "InternalError"), "the failure to be recorded")
        failing = await run.stop()
        ready = _condition(run.db, "Ready")
        assert (ready.status, ready.reason) == ("False", "Stopped")
        assert "SpecApply: OverflowError: int too large to convert to float" in ready.message
        return failing

    (line,) = asyncio.run(scenario())
    assert line.startswith("SpecApply: OverflowError: int too large to convert to float (")


def test_a_broken_scheduling_loop_raises_instead_of_running_on(state_db, specs, monkeypatch, caplog):
    """The one part nothing can restart: the loop must end (the CLI exits 1), and say why."""
    watch = specs({"h.yaml": HOST.format(name="a")})
    calls: list[int] = []
    real_idle = Controller._idle_seconds

    def idle(self: Controller) -> float:
        calls.append(1)
        if len(calls) > 3:
            raise AttributeError("'NoneType' object has no attribute 'due'")
        return real_idle(self)

    monkeypatch.setattr(Controller, "_idle_seconds", idle)

    async def scenario() -> Database:
        run = Running(state_db, watch)
        run.start()
        assert run.task is not None
        with pytest.raises(AttributeError):
            await asyncio.wait_for(run.task, 30)
        return run.db

    db = asyncio.run(scenario())
    ready = _condition(db, "Ready")
    assert (ready.status, ready.reason) == ("False", "Crashed")
    assert "AttributeError" in ready.message
    assert any(r.levelno == logging.CRITICAL and "AttributeError" in r.getMessage() for r in caplog.records)


def test_conditions_move_their_transition_time_only_on_a_flip_and_recording_failures_are_logged(state_db, caplog):
    clock = iter(float(t) for t in range(100, 200))
    db = Database(state_db)
    supervisor = Supervisor(db, clock=lambda: next(clock))
    supervisor.begin()
    supervisor.failed(Part.CLAIMS, ValueError("x"), attempt=1, retry_in=1)
    first = _condition(db, "ClaimsPass")
    supervisor.failed(Part.CLAIMS, ValueError("x"), attempt=CRASH_LOOP, retry_in=4)
    again = _condition(db, "ClaimsPass")
    assert (first.reason, again.reason) == ("Restarting", "CrashLoopBackOff")
    assert again.last_transition == first.last_transition  # still False: no flip
    supervisor.succeeded(Part.CLAIMS)
    supervisor.succeeded(Part.CLAIMS)  # healthy already: nothing written
    back = _condition(db, "ClaimsPass")
    assert back.status == "True" and back.last_transition > first.last_transition
    assert len(_events(db, "Recovered")) == 1

    class Locked:
        def write(self) -> Any:
            raise sqlite3.OperationalError("database is locked")

    broken = Supervisor(Locked())  # type: ignore[arg-type]
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="axis"):
        broken.failed(Part.STORE_POLL, RuntimeError("y"), attempt=1, retry_in=1)  # does not raise
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0].startswith("StorePoll: internal error: RuntimeError: y")
    assert messages[1] == "cannot record the controller's health in the state DB: OperationalError: database is locked"
    assert broken.failing() == ["StorePoll: RuntimeError: y (1 in a row, retry in 1s)"]


@pytest.mark.parametrize("broken", ["spec error", "exception"])
def test_started_on_specs_that_do_not_load_it_reconciles_the_stored_state(state_db, specs, monkeypatch, broken,
                                                                          controller_lines):
    """Found while testing: a controller whose first load failed never scheduled the hosts
    stored before (a spec error) or logged them as stored "by another process" (an exception)."""
    good = specs({"h.yaml": HOST.format(name="a")})
    watch = specs({"h.yaml": HOST.format(name="a").replace("kind: Host", "kind: Hots")})
    if broken == "exception":
        watch = good

        def loader(paths: list[Path]) -> Any:
            raise MemoryError("injected")

    async def scenario() -> tuple[list[str], list[str]]:
        first = Running(state_db, good)
        first.controller.apply_specs()  # an earlier controller stored host a
        controller_lines.clear()  # the lines of the controller under test follow
        if broken == "exception":
            monkeypatch.setattr(controller_module, "load_specs", loader)
        run = Running(state_db, watch)
        run.start()
        ssh = run.ssh
        assert isinstance(ssh, Refused)
        await _until(lambda: "a" in ssh.connects, "a pass over the stored host")
        return await run.stop(), controller_lines

    failing, lines = asyncio.run(scenario())
    assert "reconciling the 1 object(s) stored in the state DB until the watched specs load" in lines
    assert not [line for line in lines if "by another process" in line]
    assert bool(failing) == (broken == "exception")


def test_serve_watch_exits_1_when_a_part_of_its_loop_was_failing_at_stop(tmp_path):
    """`axis serve --watch` says what `axis controller` says: the loop's failing parts make the
    exit status 1 (the server here ends at once, which stops the loop as a signal would)."""
    import socket

    from axis.api.http_server import _serve
    from axis.app.context import AppContext

    app = AppContext(state=tmp_path / "state.db")  # the loop's local socket is served beside it

    class Server:
        async def serve(self, sockets: list[socket.socket]) -> None:
            return None

    class Loop:
        def __init__(self, failing: list[str]):
            self.failing = failing
            self.db = self.connector = None  # what the socket would serve with: nothing asks it here

        async def run(self, stop: asyncio.Event) -> list[str]:
            await stop.wait()
            return self.failing

    with socket.socket() as sock:
        assert asyncio.run(_serve(app, Server(), sock, Loop(["SpecWatcher: OSError: x"]))) == 1  # type: ignore[arg-type]
        assert asyncio.run(_serve(app, Server(), sock, Loop([]))) == 0  # type: ignore[arg-type]
        assert asyncio.run(_serve(app, Server(), sock, None)) == 0


PROFILE = """
apiVersion: axis/v1
kind: HostProfile
metadata: {name: base}
spec: {selector: {matchLabels: {role: worker}}, features: {earlyoom: {}}}
"""


def test_axis_controller_exits_1_when_its_loop_breaks(axis, specs, monkeypatch):
    """The CLI end of a broken scheduling loop: one log line with the type, exit status 1,
    not a process left running without its loop. (No Host: nothing is contacted.)"""
    def idle(self: Controller) -> float:
        raise AttributeError("'NoneType' object has no attribute 'due'")

    monkeypatch.setattr(Controller, "_idle_seconds", idle)
    result = axis("controller", "--watch", str(specs({"p.yaml": PROFILE})))
    assert result.code == 1, result.err
    assert "the controller loop failed, exiting: AttributeError: 'NoneType' object has no attribute 'due'" in result.err


class Unprintable(Exception):
    """An exception whose message cannot be formatted (its `__str__` raises)."""

    def __str__(self) -> str:
        raise ValueError("no str for you")


HOSTILE: list[BaseException] = [KeyError(1 << 20000), Unprintable()]


def test_describe_never_raises_and_stays_one_bounded_line():
    """`str(KeyError(1 << 20000))` raises ValueError (int too large to convert to str)."""
    assert describe(KeyError(1 << 20000)) == "KeyError: (its message cannot be shown)"
    assert describe(Unprintable()) == "Unprintable: (its message cannot be shown)"
    assert describe(Unprintable(), typed=False) == "(its message cannot be shown)"
    long = describe(RuntimeError("x\n" * 10**6))
    assert len(long) < 320 and "\n" not in long and long.endswith("...")
    named = type("N" * 10_000, (Exception,), {})
    assert len(describe(named("m"))) < 110


def test_backoffs_stay_finite_after_any_number_of_failures():
    """A host unreachable for days: 2 ** 1024 seconds would overflow a float inside the except
    block that computes the next retry, killing the pass it reschedules."""
    assert restart_delay(10**6) == supervisor_module.RESTART_CAP
    assert host_slot.backoff(10**6) == host_slot.BACKOFF_CAP


@pytest.mark.parametrize("exc", HOSTILE, ids=["huge-int-key", "str-raises"])
def test_reporting_a_hostile_exception_on_a_broken_db_does_not_raise(tmp_path, caplog, exc):
    class Broken:
        def write(self) -> Any:
            raise Unprintable()

    supervisor = Supervisor(Broken())  # type: ignore[arg-type]
    with caplog.at_level(logging.ERROR, logger="axis"):
        supervisor.begin()
        supervisor.failed(Part.HOST_PASSES, exc, attempt=1, retry_in=1, subject="a")
        supervisor.succeeded(Part.HOST_PASSES, "a")
        supervisor.end(exc)
    messages = [r.getMessage() for r in caplog.records]
    assert f"a: internal error: {type(exc).__name__}: (its message cannot be shown); failed 1 time(s) in a row, " \
           "retry in 1s" in messages
    assert "cannot record the controller's health in the state DB: Unprintable: (its message cannot be shown)" \
        in messages


@pytest.mark.parametrize("part", [Part.HOST_PASSES, Part.CLAIMS, Part.STORE_POLL, Part.SPECS, Part.WATCHER])
@pytest.mark.parametrize("exc", HOSTILE, ids=["huge-int-key", "str-raises"])
def test_a_part_that_raises_a_hostile_exception_is_reported_and_runs_again(state_db, specs, monkeypatch, part, exc):
    """The same supervision when the exception cannot even be printed: the report names its type,
    the part runs again, and the loop lives on (before: the host pass died with an exception no
    one retrieved, the scheduling loop crashed on the claims pass or the poll)."""
    watch = specs({"h.yaml": HOST.format(name="a")})
    armed: list[BaseException] = []
    ssh = Refused()
    if part is Part.HOST_PASSES:
        armed = ssh.inject
    else:
        arm(monkeypatch, part, armed)
    kind = "Host" if part is Part.HOST_PASSES else "Controller"

    async def scenario() -> list[str]:
        armed.append(exc)
        run = Running(state_db, watch, ssh)
        run.start()
        await _until(lambda: _events(run.db, "InternalError", kind=kind), "the failure to be recorded")
        (event,) = _events(run.db, "InternalError", kind=kind)
        assert f"internal error: {type(exc).__name__}: (its message cannot be shown); failed 1 time(s)" \
            in event.message
        await _until(lambda: _condition(run.db, part.value).status == "True", f"{part.value} True again")
        assert run.task is not None and not run.task.done()  # the loop lives on
        await run.edit("b.yaml", HOST.format(name="b"), lambda: "b" in ssh.connects, "the good edit's pass")
        return await run.stop()

    assert asyncio.run(scenario()) == []


def test_a_restarted_watcher_recovers_only_once_it_is_watching_again(state_db, specs, monkeypatch):
    """The restart's re-read used to report the watcher Recovered before the file watch had
    started again; a watch that then failed again made Ready flap on every restart."""
    watch = specs({"h.yaml": HOST.format(name="a")})
    calls: list[int] = []
    gate: asyncio.Event | None = None  # created in the test's event loop

    async def not_yet(path: Path, *, stop_event: asyncio.Event, **kw: Any) -> AsyncIterator[set[Any]]:
        assert gate is not None
        await gate.wait()  # the file watch is still starting: nothing reported yet
        async for changes in _never_changes(path, stop_event=stop_event, **kw):
            yield changes

    monkeypatch.setattr(spec_watch, "awatch", _watch_limit_first(calls, not_yet))

    async def scenario() -> list[str]:
        nonlocal gate
        gate = asyncio.Event()
        run = Running(state_db, watch)
        run.start()
        await _until(lambda: len(calls) == 2, "the restart")
        (watch / "h.yaml").write_text(HOST.format(name="edited-while-down"))
        await asyncio.sleep(0.5)
        down = _condition(run.db, "SpecWatcher")
        assert (down.status, down.reason) == ("False", "Restarting")  # restarted, not yet watching
        assert not _events(run.db, "Recovered") and _condition(run.db, "Ready").status == "False"
        assert _hosts(run.db) == ["a"]  # the re-read waits for the watch
        gate.set()
        await _until(lambda: _condition(run.db, "SpecWatcher").status == "True", "SpecWatcher True")
        await _until(lambda: _hosts(run.db) == ["edited-while-down"], "the re-read once watching")
        (recovered,) = _events(run.db, "Recovered")
        assert recovered.message.startswith("SpecWatcher: running again after 1 failure(s)")
        assert _condition(run.db, "SpecApply").status == "True"
        return await run.stop()

    assert asyncio.run(scenario()) == []


def test_a_deleted_watch_directory_is_the_watchers_failure_not_a_spec_success(state_db, specs, monkeypatch):
    """With the real file watch: the directory goes, the watcher fails under WatchPathMissing in
    plain words, without a Recovered between its retries (Ready stays False, no flapping), the
    spec apply is not run on the missing path (no SpecInvalid, hosts kept); the directory comes
    back with an edit, the watcher recovers and the edit is applied."""
    import shutil

    watch = specs({"h.yaml": HOST.format(name="a")})
    monkeypatch.setattr(spec_watch, "WATCH_TICK_MS", 200)

    async def scenario() -> list[str]:
        run = Running(state_db, watch)
        run.start()
        await _until(lambda: _condition(run.db, "SpecWatcher") is not None, "the watcher's condition")
        await asyncio.sleep(0.5)  # watching
        shutil.rmtree(watch)
        await _until(lambda: len(_events(run.db, "WatchPathMissing")) >= 3, "three failed restarts", timeout=30)
        down = _condition(run.db, "SpecWatcher")
        assert (down.status, down.reason) == ("False", "WatchPathMissing")
        assert down.message.startswith(f"the watched path {watch} does not exist (deleted or moved?); "
                                       "the last good desired state stays in force (")
        event = _events(run.db, "WatchPathMissing")[0]
        assert event.type == "Warning" and "internal error" not in event.message
        assert not _events(run.db, "Recovered") and not _events(run.db, "SpecInvalid")
        assert _condition(run.db, "Ready").status == "False"
        assert _condition(run.db, "SpecApply").status == "True"
        assert _hosts(run.db) == ["a"]

        watch.mkdir()
        (watch / "h.yaml").write_text(HOST.format(name="back"))
        await _until(lambda: _hosts(run.db) == ["back"], "the directory's return to be applied", timeout=60)
        await _until(lambda: _condition(run.db, "SpecWatcher").status == "True", "SpecWatcher True again")
        assert len(_events(run.db, "Recovered")) == 1
        return await run.stop()

    assert asyncio.run(scenario()) == []


def test_the_controllers_conditions_and_events_are_shown_by_the_cli_and_the_api(axis, state_db):
    """A failing part's condition and reason, and the Warning event, were stored but nowhere shown:
    `axis get controller`, `axis describe controller` and `GET /controller` show them."""
    from starlette.testclient import TestClient

    from axis.api.app import build_app
    from axis.app.context import AppContext

    assert axis("get", "controller").err.startswith("No controller has recorded its health")
    running = controller_stand_in(state_db)  # as the controller's process holds it (see test_controller_liveness)
    running.acquire()
    supervisor = Supervisor(Database(state_db))
    supervisor.begin()
    supervisor.failed(Part.CLAIMS, ValueError("lease arithmetic"), attempt=CRASH_LOOP, retry_in=0.8)

    table = axis("get", "controller")
    assert table.code == 0, table.err
    rows = {line.split()[0]: line.split() for line in table.out.splitlines()[1:]}
    assert rows["ClaimsPass"][1:3] == ["False", "CrashLoopBackOff"]
    assert "ValueError: lease arithmetic (3 in a row, retry in 0.8s)" in table.out
    assert rows["Ready"][1:3] == ["False", "PartsFailing"] and rows["SpecWatcher"][1:3] == ["True", "Running"]

    shown = axis("describe", "controller")
    assert shown.code == 0, shown.err
    assert "Conditions:" in shown.out and "CrashLoopBackOff" in shown.out
    events = shown.out[shown.out.index("Events:"):]
    assert "Warning" in events and "InternalError" in events and "ClaimsPass: internal error: ValueError" in events

    as_json = json.loads(axis("get", "controller", "-o", "json").out)
    with TestClient(build_app(AppContext(state=state_db), "t" * 20), headers={"Authorization": f"Bearer {'t' * 20}"}) as c:
        served = c.get("/controller")
    assert served.status_code == 200 and served.json() == as_json
    claims = next(c for c in as_json["status"]["conditions"] if c["type"] == "ClaimsPass")
    assert (claims["status"], claims["reason"]) == ("False", "CrashLoopBackOff")
    assert claims["message"] == "ValueError: lease arithmetic (3 in a row, retry in 0.8s)"
    (event,) = as_json["status"]["events"]
    assert (event["type"], event["object"], event["reason"]) == ("Warning", "Controller/controller", "InternalError")
    assert axis("get", "controller", "other").code == 1
    running.release()
