"""The command line stays cheap to start: a command imports its own module only, and the HTTP and
MCP servers (and their web stack and SDK) only when `axis serve` or `axis mcp serve` runs. The
commands that only read the state DB load neither the YAML loader (and ruamel) nor the scorer,
nor SQLAlchemy, SQLModel, Alembic, asyncssh or asyncio: they read one plain DB-API snapshot
(`axis.state.snapshot`), and `--help`/`--version` read no DB at all. (Shell completion's answers,
which read names the same way: tests/test_cli_completion.py.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.backend import on_postgresql

#: Runs a command line, then lists the server modules (`axis.api`, its web stack, the dashboard's
#: templates and reads, the MCP SDK) it loaded, and, with READING=1 in its environment, also the
#: spec loader, ruamel and the scorer.
PROBE = """
import os, sys
from axis.main import run
code = run(sys.argv[1:])
heavy = {"axis.specs.loader", "axis.specs.bounded_yaml", "axis.placement.scorer"} if os.environ.get("READING") else set()
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {"starlette", "uvicorn", "mcp", "jinja2"}
                or m.startswith("axis.api") or m == "axis.app.fleet_overview"
                or m in heavy or (heavy and m.split(".")[0] == "ruamel"))
print("LOADED", code, " ".join(loaded))
"""


def _loaded(*args: str, reading: bool = False) -> tuple[int, list[str]]:
    env = {**os.environ, "READING": "1"} if reading else None
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, check=True, env=env)
    line = next(x for x in done.stdout.splitlines() if x.startswith("LOADED"))
    _, code, *mods = line.split(" ")
    return int(code), [m for m in mods if m]


def test_reading_commands_load_no_server(state_db: Path | str) -> None:
    state = str(state_db)
    for args in (["--state", state, "get", "hosts"], ["--state", state, "status", "--cached"], ["--help"]):
        code, loaded = _loaded(*args)
        assert code == 0, args
        assert loaded == [], (args, loaded)


def test_reading_commands_load_no_yaml_loader_nor_scorer(tmp_path: Path, state_db: Path | str) -> None:
    """`get`, `describe` and `status --cached` read the DB: the loader and the scorer stay out, and
    ruamel too where nothing is printed as YAML."""
    state = str(state_db)
    spec = tmp_path / "hosts.yaml"
    spec.write_text("apiVersion: axis/v1\nkind: Host\nmetadata: {name: box}\nspec: {address: 192.0.2.1}\n")
    subprocess.run([sys.executable, "-m", "axis", "--state", state, "apply", "--no-converge", "-f", str(spec)],
                   capture_output=True, check=True)
    for args in (["get", "hosts"], ["get", "claims"], ["get", "leases"], ["status", "--cached"],
                 ["describe", "host", "box"]):
        code, loaded = _loaded("--state", state, *args, reading=True)
        assert code == 0, args
        if args[0] == "describe":  # it prints the spec as YAML: ruamel's emitter, never the loader
            loaded = [m for m in loaded if m.split(".")[0] != "ruamel"]
        assert loaded == [], (args, loaded)


#: Prints, with the command's exit code, the top-level packages from NOT_READING it loaded.
NOT_READING = ("sqlalchemy", "sqlmodel", "alembic", "asyncssh", "asyncio")
PROBE_ORM = f"""
import sys
from axis.main import run
code = run(sys.argv[1:])
print("LOADED", code, " ".join(sorted({{m.split(".")[0] for m in sys.modules}} & set({NOT_READING!r}))))
"""


def test_reading_commands_need_no_orm_nor_ssh(tmp_path: Path, state_db: Path | str) -> None:
    """On an existing state DB (either backend: psycopg is what PostgreSQL is read with)."""
    state = str(state_db)
    spec = tmp_path / "hosts.yaml"
    spec.write_text("apiVersion: axis/v1\nkind: Host\nmetadata: {name: box}\nspec: {address: 192.0.2.1}\n---\n"
                    "apiVersion: axis/v1\nkind: HostProfile\nmetadata: {name: base}\nspec: {features: {earlyoom: {}}}\n"
                    "---\napiVersion: axis/v1\nkind: Claim\nmetadata: {name: job}\nspec: {task: make -j8 build}\n")
    subprocess.run([sys.executable, "-m", "axis", "--state", state, "apply", "--no-converge", "-f", str(spec)],
                   capture_output=True, check=True)
    for args in (["get", "hosts"], ["get", "hosts", "-o", "wide"], ["get", "host", "box", "-o", "json"],
                 ["get", "profiles"], ["get", "claims"], ["get", "leases"], ["get", "events"],
                 ["get", "events", "-o", "yaml"], ["describe", "host", "box"], ["describe", "claim", "job"],
                 ["place", "make -j8 build"], ["place", "make -j8 build", "-o", "json"], ["status", "--cached"],
                 ["--help"], ["--version"], ["get", "--help"], ["completion", "bash"]):
        done = subprocess.run([sys.executable, "-c", PROBE_ORM, "--state", state, *args], capture_output=True,
                              text=True, check=True)
        line = next(x for x in done.stdout.splitlines() if x.startswith("LOADED"))
        code, *loaded = line.split(" ")[1:]
        if on_postgresql() and not {"--help", "--version"} & set(args):  # psycopg, which reads it, imports asyncio
            loaded = [m for m in loaded if m != "asyncio"]
        expected = "3" if args[0] == "place" else "0"  # box has no facts yet: no host fits, exit 3
        assert (code, [m for m in loaded if m]) == (expected, []), (args, line, done.stderr[-500:])


def test_help_lists_every_command_as_the_commands_themselves_say(capsys: pytest.CaptureFixture[str]) -> None:
    """`axis --help` reads the command list from the modules' source (without importing them):
    exactly the help that registering the commands themselves prints."""
    import importlib

    from axis.cli.main import COMMANDS, app, run

    assert run(["--help"]) == 0
    light = capsys.readouterr().out
    app.registered_commands.clear()
    for name, module, attr in COMMANDS:
        app.command(name=name)(getattr(importlib.import_module(f"axis.cli.{module}"), attr))
    typer_main = importlib.import_module("typer.main")
    with pytest.raises(SystemExit):
        typer_main.get_command(app)(["--help"], prog_name="axis")
    assert capsys.readouterr().out == light


def test_serve_help_does_not_start_the_web_stack(tmp_path: Path) -> None:
    code, loaded = _loaded("--state", str(tmp_path / "state.db"), "serve", "--help")
    assert code == 0
    assert loaded == []


def test_the_cli_without_servers_has_no_server_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`axis.cli.main.run` without the composition root's servers: every other command, no serve/mcp."""
    from axis.cli.main import run

    assert run(["--state", str(tmp_path / "state.db"), "serve"]) == 2
    assert "No such command 'serve'" in capsys.readouterr().err


def test_version_and_help_load_no_pydantic(tmp_path: Path) -> None:
    """`axis --version` and `axis --help` build no spec model: every module the command line imports
    at its start (completion's included) keeps pydantic out, which costs them ~70 ms."""
    probe = PROBE_ORM.replace(repr(NOT_READING), repr(("pydantic", *NOT_READING)))
    for args in (["--version"], ["--help"]):
        done = subprocess.run([sys.executable, "-c", probe, "--state", str(tmp_path / "state.db"), *args],
                              capture_output=True, text=True, check=True)
        line = next(x for x in done.stdout.splitlines() if x.startswith("LOADED"))
        assert line.split(" ")[1:] == ["0", ""], (args, line)


def test_completion_names_the_kinds_the_specs_have() -> None:
    from axis.cli import completion
    from axis.specs import Kind

    assert (completion.HOST, completion.HOST_PROFILE, completion.CLAIM) == (Kind.HOST, Kind.HOST_PROFILE, Kind.CLAIM)


def test_on_and_clean_read_their_hosts_without_the_orm(tmp_path: Path, state_db: Path | str) -> None:
    """`axis on`/`axis clean` list the hosts from a snapshot, as reading commands do: SQLAlchemy
    cost them ~0.3 s of start-up for that read alone. A host that is not stored ends them before
    any connection."""
    state = str(state_db)
    spec = tmp_path / "hosts.yaml"
    spec.write_text("apiVersion: axis/v1\nkind: Host\nmetadata: {name: box}\nspec: {address: box.lan}\n")
    subprocess.run([sys.executable, "-m", "axis", "--state", state, "apply", "--no-converge", "-f", str(spec)],
                   capture_output=True, check=True)
    for args in (["on", "nosuch", "--", "true"], ["clean", "nosuch"]):
        done = subprocess.run([sys.executable, "-c", PROBE_ORM, "--state", state, *args], capture_output=True,
                              text=True, check=True)
        line = next(x for x in done.stdout.splitlines() if x.startswith("LOADED"))
        code, *loaded = line.split(" ")[1:]
        assert code == "1" and "nosuch" in done.stderr, (args, line, done.stderr[-500:])
        assert not {"sqlalchemy", "sqlmodel", "alembic"} & set(loaded), (args, line)
