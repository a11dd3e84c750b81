"""Which way `axis status`, `on`, `diff` and `exec` reach the hosts: through the connections of
the controller running on the same state DB (its local socket, `axis.app.controller_client`), or,
when none runs or it cannot serve this command, their own, silently; `--debug` says which and why.

Both ways run the same code above the transport and give the same answers and exit codes; the
controller's way skips a handshake per host (and, for status, the state DB's modules here).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from axis.app.controller_client import ControllerClient, NoController

if TYPE_CHECKING:
    from axis.app.context import AppContext
    from axis.drivers.connector import Connector


def warm_status(app: AppContext, *, jobs: int, timeout: float) -> Any | None:
    """The status document the controller built after observing every host now, or None when
    this command must observe them itself."""
    try:
        answer = ControllerClient.of(app.state, app.connector).ask("status", jobs=jobs, timeout=timeout)
    except NoController as exc:
        _say(app, f"direct connections: {exc}")
        return None
    _say(app, "the controller observed the hosts (its connections)")
    return answer.get("status")


def host_connector(app: AppContext) -> Connector:
    """A connector whose transports are the controller's (relayed), or the command's own."""
    try:
        client = ControllerClient.of(app.state, app.connector)
        client.ask("ping")
    except NoController as exc:
        _say(app, f"direct connections: {exc}")
        return app.connector
    from axis.app.controller_relay import RelayConnector

    _say(app, f"the controller's connections (socket {client.path})")
    return RelayConnector(client, app.connector)


def _say(app: AppContext, text: str) -> None:
    if app.debug:
        print(f"axis: {text}", file=sys.stderr)
