"""Spec files for the test fleet, the CLI bound to its ssh_config, and what the CLI answered:
shared by integration tests."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any


def host_specs(fleet, *, user: str | None = None, sudo: bool = False, description: str = "test host",
               features: str = "{}", fanout: dict[str, bool] | None = None,
               hosts: list | None = None, ports: dict[str, int] | None = None) -> str:
    """One Host document per test host, reached through its ssh_config alias (on the port in
    `ports`, where given, instead of the alias's)."""
    docs = []
    for host in hosts if hosts is not None else fleet.hosts:
        lines = ["apiVersion: axis/v1", "kind: Host",
                 f"metadata: {{name: {host.name}, labels: {{role: test}}}}", "spec:",
                 f"  address: {host.name}", f"  description: {_quote(description)}",
                 f"  fanout: {str((fanout or {}).get(host.name, True)).lower()}",
                 f"  sudo: {str(sudo).lower()}", f"  features: {features}"]
        if user:
            lines.append(f"  user: {user}")
        if ports and host.name in ports:
            lines.append(f"  port: {ports[host.name]}")
        docs.append("\n".join(lines) + "\n")
    return "---\n".join(docs)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def fleet_axis(fleet, axis) -> Callable:
    """`axis` with the fleet's ssh_config (aliases, keys, known_hosts), like a user's ~/.ssh/config."""
    def run(*args: str):
        return axis("--ssh-config", str(fleet.ssh_config), *args)
    return run


def host_views(result) -> dict[str, Any]:
    """The hosts of an `axis apply|diff|status -o json` answer, by name."""
    return {h["name"]: h for h in json.loads(result.out)["hosts"]}


def say(text: str) -> None:
    """A figure for the test report, printed past the `axis` fixture's capsys."""
    print(text, file=sys.__stderr__)
