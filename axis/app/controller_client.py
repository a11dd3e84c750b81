"""The command line's side of the controller's local socket (`axis.app.controller_socket`): find
the socket of the state DB, say hello with the API's token, and ask one op; any reason the
controller cannot be used (none runs, a socket file left behind, another SSH setup, a refusal)
is `NoController`, after which the command reaches the hosts itself, as it always did.

Blocking and standard-library only (with the token's module): `axis status` asks a warm
controller for its status document without loading asyncio's, the state DB's or SSH's modules.
The relayed transports of `on`, `diff` and `exec` are `axis.app.controller_relay`'s.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from axis.app.controller_wire import (MAX_LINE, WORKING, WireError, decode, encode, hello, peer_refused,
                                     socket_file_refused, socket_path, ssh_identity)
from axis.app.token import TokenError, default_token_path, read_token

if TYPE_CHECKING:
    from axis.state import Location

#: Seconds to reach the socket and send the hello, and the longest silence after it: `ping`
#: answers at once, and while `status` observes the hosts the controller says it is still working
#: every `HEARTBEAT` seconds, so a controller that is stopped (Ctrl-Z) or stuck, whose socket the
#: kernel still accepts on, costs this long and then the command reaches the hosts itself.
CONNECT_TIMEOUT = 5.0


class NoController(Exception):
    """This command cannot use a controller's connections; the message says why (for --debug)."""


@dataclass(frozen=True)
class ControllerClient:
    """How to reach the controller of one state DB: its socket, the token, our SSH options."""

    path: Path
    token: str
    ssh: dict[str, str | None]

    @classmethod
    def of(cls, state: Location, connector: object) -> ControllerClient:
        """The client for `state`'s controller; NoController when there is no socket file (no
        controller ever served it, or it stopped), one that is not a socket of this user's or
        root's, no usable token, or hosts are not reached over SSH (tests' fake hosts)."""
        path = socket_path(state)
        if (refused := socket_file_refused(path)) is not None:
            raise NoController(refused)
        ssh = ssh_identity(connector)
        if ssh is None:
            raise NoController("hosts are not reached over SSH")
        try:
            token = read_token(default_token_path(state))
        except TokenError as exc:
            raise NoController(str(exc)) from exc
        return cls(path, token, ssh)

    def hello(self, op: str, **arguments: Any) -> dict[str, Any]:
        """The first message of a connection asking for `op`."""
        return hello(self.token, self.ssh, op, **arguments)

    def ask(self, op: str, **arguments: Any) -> dict[str, Any]:
        """The controller's answer to `op` (a message with `ok`); NoController when it cannot or
        will not answer (a socket nobody serves, a refusal, a broken answer)."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(CONNECT_TIMEOUT)
            try:
                sock.connect(str(self.path))
                if (refused := peer_refused(sock)) is not None:  # before the token leaves
                    raise NoController(f"not sending the token on {self.path}: {refused}")
                sock.sendall(encode(self.hello(op, **arguments)))
                with sock.makefile("rb") as answers:  # the timeout stays: each line within it
                    while (answer := decode(answers.readline(MAX_LINE + 1))) == WORKING:
                        pass
            except TimeoutError as exc:
                raise NoController(f"the controller on {self.path} did not answer within "
                                   f"{CONNECT_TIMEOUT:g}s (stopped or stuck?)") from exc
            except OSError as exc:
                raise NoController(f"no controller answers on {self.path}: {exc.strerror or exc}") from exc
            except WireError as exc:
                raise NoController(f"the controller's answer on {self.path} was broken: {exc}") from exc
        finally:
            sock.close()
        if not answer.get("ok"):
            raise NoController(f"the controller on {self.path} refused: {answer.get('refused', answer)}")
        return answer
