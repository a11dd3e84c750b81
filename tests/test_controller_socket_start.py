"""The controller's socket where the state DB's directory will not have it: the controller runs
without a socket (None, one line logged), never fails to start for it."""

from __future__ import annotations

import logging
import tempfile

import pytest

from axis.app.context import AppContext
from axis.app.controller_wire import socket_path
from tests.fake_transport import FakeConnector
from tests.socketkit import socket_served


def test_a_link_where_the_lock_goes_is_not_followed(app: AppContext, caplog: pytest.LogCaptureFixture) -> None:
    path = socket_path(app.state)
    path.parent.mkdir(parents=True, exist_ok=True)
    target = path.with_name("elsewhere")
    path.with_name(path.name + ".lock").symlink_to(target)
    with caplog.at_level(logging.WARNING), socket_served(app, FakeConnector({})) as server:
        assert server is None
    assert not target.exists()  # not created through the link
    assert "no local socket for the command line at" in caplog.text


def test_a_directory_that_refuses_the_socket_is_no_socket(app: AppContext, monkeypatch: pytest.MonkeyPatch,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    def refused(**_: object) -> str:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkdtemp", refused)
    with caplog.at_level(logging.WARNING), socket_served(app, FakeConnector({})) as server:
        assert server is None
    assert "Permission denied" in caplog.text
    assert not socket_path(app.state).exists()
