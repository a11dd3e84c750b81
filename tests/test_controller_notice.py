"""The controller notices what another process stores in its state DB (an `axis apply` handed
over to it, the HTTP API, `axis delete`), without a spec file changing. No host is contacted:
only the schedule is inspected."""

from __future__ import annotations

import time
from pathlib import Path

from axis.drivers.connector import SshOptions
from axis.reconcile.controller import Controller
from axis.specs.loader import load_spec_text
from axis.state import Database
from axis.state.objects import apply_objects, delete_object
from tests.conftest import HOST


def _store(path: Path | str, text: str) -> None:
    other = Database(path)  # a second connection, as another process would open
    with other.write() as session:
        apply_objects(session, load_spec_text(text))
    other.close()


def test_objects_stored_or_deleted_by_another_process_are_scheduled_at_once(state_db, specs, controller_lines):
    watch = specs({"h.yaml": HOST.format(name="a")})
    path = state_db
    lines = controller_lines
    controller = Controller(Database(path), SshOptions(), watch, resync=600)
    controller.apply_specs()
    far = time.time() + 500
    for slot in controller._slots.values():
        slot.due = far  # as after a pass: next resync in ten minutes

    controller._notice_stored()
    assert lines == ["host/a created"]  # nothing new since the controller's own apply

    _store(path, HOST.format(name="a").replace("32G", "16G") + "---\n" + HOST.format(name="b"))
    controller._notice_stored()
    assert lines[1:] == ["host/a configured in the state DB by another process",
                         "host/b created in the state DB by another process"]
    assert set(controller._slots) == {"a", "b"}
    assert all(slot.due <= time.time() for slot in controller._slots.values())

    controller._slots["a"].due = far
    with controller.db.write() as session:
        delete_object(session, "Host", "b")
    controller._notice_stored()
    assert lines[3:] == ["host/b deleted in the state DB by another process"]
    assert set(controller._slots) == {"a"} and controller._slots["a"].due == far


def test_a_spec_edit_right_after_another_process_stored_does_not_swallow_its_change(state_db, specs,
                                                                                    controller_lines):
    """Found in review: the controller's own apply took every row's version as seen, so a host an
    `axis apply` had just handed over waited for its resync."""
    watch = specs({"h.yaml": HOST.format(name="a")})
    path = state_db
    lines = controller_lines
    controller = Controller(Database(path), SshOptions(), watch, resync=600)
    controller.apply_specs()
    _store(path, HOST.format(name="b"))  # handed over by an apply; the controller has not looked yet
    controller._slots["a"].due = far = time.time() + 500
    (watch / "h.yaml").write_text(HOST.format(name="a").replace("32G", "16G"))
    controller.apply_specs()  # the watched file changed before the next once-a-second look
    assert "host/b created in the state DB by another process" in lines
    assert controller._slots["b"].due <= time.time() and controller._slots["a"].due < far
