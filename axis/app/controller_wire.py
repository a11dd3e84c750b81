"""The controller's local socket, as both ends see it: where it is, how a message is framed, and
what the first message of every connection (the hello) carries.

Framing: one JSON object per line, UTF-8. JSON escapes every newline inside a string, so no data
(a command's output, a file written to a host) can end a message early or forge the next one; a
line longer than MAX_LINE, one that is not a JSON object, or one cut off by the end of the stream
is refused (`WireError`), and the side that gets it closes the connection.

The hello: `{"token": ..., "ssh": ..., "op": ...}` plus the op's arguments. `token` is the API's
(`axis.app.token`, compared in constant time, as the API compares it); `ssh` says how the caller
reaches hosts (`ssh_identity`): a controller whose SSH options differ (another ssh_config, another
known_hosts, another host-key policy) refuses, and the command line reaches the hosts itself, so
the socket never makes a host resolve or a key count differently than the command line would.
Ops: `ping` (is it there, is it ours), `status` (observe every host, answer the status document;
`WORKING` every `HEARTBEAT` seconds until then)
and `connect` (a transport relayed over this connection: `axis.app.controller_relay`).

Imports only the standard library: `axis status` reads a warm controller's answer without
loading the state DB's or SSH's modules.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import struct
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from axis.state import Location

#: The longest line either end accepts (a relayed file write's base64, a status document).
MAX_LINE = 16 * 1024 * 1024
#: What the controller sends every HEARTBEAT seconds while it works on an answer (`status`), so
#: the command line can tell a busy controller from a stopped or stuck one.
WORKING: dict[str, Any] = {"working": True}
HEARTBEAT = 1.0
#: The files asyncssh reads when none is given (`axis.drivers.connector.SshOptions`'s None).
DEFAULT_SSH_CONFIG = "~/.ssh/config"
DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"
#: The socket's name among the state DB's side files (next to the token).
SOCKET_NAME = "controller.sock"


class WireError(Exception):
    """A line that is not one well-formed message; the message says what was wrong."""


def socket_path(state: Location) -> Path:
    """The controller's socket for this state DB: `<state DB>.controller.sock` (PostgreSQL: in its
    side directory), one per state DB, beside the token."""
    return state.side_file(SOCKET_NAME)


def trusted_uid(uid: int) -> bool:
    """Whether a process of `uid` may be trusted with our token, or trust us with its: our own
    user's or root's (who can read the token anyway)."""
    return uid in (0, os.geteuid())


def socket_file_refused(path: Path) -> str | None:
    """Why the file at `path` is no socket to send our token to: missing, not a socket (not
    followed if a link), or owned by a user who is neither us nor root (who could have bound it
    while no controller ran, to receive the token and every relayed command); None when it is."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return f"no controller socket at {path}"
    except OSError as exc:
        return f"cannot look at {path}: {exc.strerror or exc}"
    if not stat.S_ISSOCK(info.st_mode):
        return f"{path} is not a socket"
    if not trusted_uid(info.st_uid):
        return f"{path} belongs to uid {info.st_uid}, neither this user nor root"
    return None


def peer_uid(sock: socket.socket) -> int | None:
    """The uid of the process at the other end of a connected unix socket (SO_PEERCRED on Linux,
    LOCAL_PEERCRED on the BSDs and macOS); None where the system offers no way to ask."""
    if hasattr(socket, "SO_PEERCRED"):
        size = struct.calcsize("3i")
        _pid, uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, size))
        return int(uid)
    if hasattr(socket, "LOCAL_PEERCRED"):  # struct xucred: version, uid, groups; SOL_LOCAL is 0
        data = sock.getsockopt(0, socket.LOCAL_PEERCRED, struct.calcsize("IIh16I"))
        return int(struct.unpack_from("II", data)[1])
    return None


def peer_refused(sock: socket.socket | None) -> str | None:
    """Why the other end of `sock` is not to be talked to: a process of neither this user nor
    root. Both ends ask it: the controller of its caller, the command line of the controller."""
    uid = peer_uid(sock) if sock is not None else None
    return None if uid is None or trusted_uid(uid) else f"the other end's uid {uid} is neither this user nor root"


def encode(message: dict[str, Any]) -> bytes:
    """One message as one line."""
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def decode(line: bytes) -> dict[str, Any]:
    """The message on one line (as read, newline included); WireError when it is none."""
    if len(line) > MAX_LINE:
        raise WireError(f"message longer than {MAX_LINE} bytes")
    if not line.endswith(b"\n"):
        raise WireError("message cut off (no newline at the end)")
    try:
        message = json.loads(line)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WireError(f"not JSON: {exc}") from None
    if not isinstance(message, dict):
        raise WireError(f"not a JSON object but {type(message).__name__}")
    return message


def ssh_identity(connector: object) -> dict[str, str | None] | None:
    """What decides which machine a host name reaches and which host keys are trusted: the
    ssh_config and known_hosts files (absolute: the two processes' working directories differ)
    and the host-key policy. The files asyncssh reads by default are resolved for this user (a
    root command line's ~/.ssh is not the controller user's), so two users never compare equal
    by both leaving them unset. None for a connector that is not SSH's (tests' fake hosts), which
    never goes through a controller. Duck-typed on `axis.drivers.connector.SshOptions`, whose
    module loads asyncssh."""
    try:
        config, known, policy = (getattr(connector, name) for name in ("ssh_config", "known_hosts", "policy"))
    except AttributeError:
        return None
    return {"ssh_config": os.path.abspath(os.path.expanduser(config if config is not None else DEFAULT_SSH_CONFIG)),
            "known_hosts": os.path.abspath(os.path.expanduser(known if known is not None else DEFAULT_KNOWN_HOSTS)),
            "policy": str(policy.value if hasattr(policy, "value") else policy)}


def hello(token: str, ssh: dict[str, str | None], op: str, **arguments: Any) -> dict[str, Any]:
    """The first message of a connection."""
    return {"token": token, "ssh": ssh, "op": op, **arguments}
