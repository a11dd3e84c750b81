"""Which host keys a connection trusts (`--host-key-policy`): a choice the command line parses for
every command, so it lives apart from the asyncssh code that applies it (`axis.drivers.hostkeys`)
and a command that reaches no host never imports asyncssh."""

from __future__ import annotations

from enum import StrEnum


class HostKeyPolicy(StrEnum):
    STRICT = "strict"
    ACCEPT_NEW = "accept-new"
