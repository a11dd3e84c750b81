"""The command line stays cheap to start: a command imports its own module only, and the HTTP and
MCP servers (and their web stack and SDK) only when `axis serve` or `axis mcp serve` runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

#: Runs a command line, then lists the server modules (`axis.api`, its web stack, the MCP SDK) it loaded.
PROBE = """
import sys
from axis.main import run
code = run(sys.argv[1:])
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {"starlette", "uvicorn", "mcp"} or m.startswith("axis.api"))
print("LOADED", code, " ".join(loaded))
"""


def _loaded(*args: str) -> tuple[int, list[str]]:
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, check=True)
    line = next(x for x in done.stdout.splitlines() if x.startswith("LOADED"))
    _, code, *mods = line.split(" ")
    return int(code), [m for m in mods if m]


def test_reading_commands_load_no_server(tmp_path: Path) -> None:
    state = str(tmp_path / "state.db")
    for args in (["--state", state, "get", "hosts"], ["--state", state, "status", "--cached"], ["--help"]):
        code, loaded = _loaded(*args)
        assert code == 0, args
        assert loaded == [], (args, loaded)


def test_serve_help_does_not_start_the_web_stack(tmp_path: Path) -> None:
    code, loaded = _loaded("--state", str(tmp_path / "state.db"), "serve", "--help")
    assert code == 0
    assert loaded == []


def test_the_cli_without_servers_has_no_server_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`axis.cli.main.run` without the composition root's servers: every other command, no serve/mcp."""
    from axis.cli.main import run

    assert run(["--state", str(tmp_path / "state.db"), "serve"]) == 2
    assert "No such command 'serve'" in capsys.readouterr().err
