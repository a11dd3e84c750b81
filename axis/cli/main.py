"""The `axis` command line: a typer app whose errors are one clear line each, never a traceback."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import os
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from axis import __version__
from axis.app.context import AppContext, AppError
from axis.cli.completion import COMPLETE_VAR, completed_command
from axis.cli.help_types import use_value_types
from axis.drivers.connector import SshOptions
from axis.drivers.host_key_policy import HostKeyPolicy
from axis.drivers.transport import TransportError
from axis.specs.errors import SpecErrors
from axis.state.errors import StateError
from axis.state.location import state_location

if TYPE_CHECKING:  # the modules themselves are imported when their command runs (`register`)
    from axis.cli.mcp_cmd import McpServer
    from axis.cli.serve_cmd import HttpServer
    from axis.drivers.connector import Connector

app = typer.Typer(
    name="axis", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    help="Declarative reconciler for a small fleet of machines reached over SSH.",
    context_settings={"help_option_names": ["-h", "--help"]},
)
use_value_types()  # flags without `<bool>`, repeated values without `<list[…]>`, in every help


def _version(ctx: typer.Context, value: bool) -> None:
    """`--version`: eager, so it runs while a <TAB> is completed too (resilient parsing): then
    it prints nothing, or `axis --version <TAB>` would offer the version line."""
    if value and not ctx.resilient_parsing:
        typer.echo(f"axis {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    state: str | None = typer.Option(None, "--state", envvar="AXIS_STATE", show_envvar=True,
                                     help="state DB: a SQLite file, or postgresql://user@host/db "
                                          "[default: ~/.axis/state.db]"),
    ssh_config: Path | None = typer.Option(None, "--ssh-config", envvar="AXIS_SSH_CONFIG", show_envvar=True,
                                           help="ssh_config file [default: ~/.ssh/config]"),
    known_hosts: Path | None = typer.Option(None, "--known-hosts", envvar="AXIS_KNOWN_HOSTS", show_envvar=True,
                                            help="known_hosts file [default: from ssh_config, else ~/.ssh/known_hosts]"),
    host_key_policy: HostKeyPolicy = typer.Option(
        HostKeyPolicy.STRICT, "--host-key-policy", envvar="AXIS_HOST_KEY_POLICY", show_envvar=True,
        help="strict: only keys already in known_hosts; accept-new: record a host's first key, refuse a changed one"),
    connect_timeout: float = typer.Option(10.0, "--connect-timeout", help="seconds to reach and log in to a host"),
    debug: bool = typer.Option(False, "--debug", help="show a traceback on errors"),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="print the version"),
) -> None:
    # Until here ctx.obj is what `run` was given: a Connector that reaches the hosts instead of
    # SSH (the SSH options above then go unused), or None.
    given: Connector | None = ctx.obj
    connector = given if given is not None else SshOptions(
        ssh_config=ssh_config, known_hosts=known_hosts, policy=host_key_policy, connect_timeout=connect_timeout)
    try:
        location = state_location(state)
    except ValueError as exc:  # a URL axis cannot use: a usage error, shown with the usage line
        raise typer.BadParameter(str(exc), param_hint="--state/AXIS_STATE") from exc
    ctx.obj = AppContext(state=location, debug=debug, connector=connector)


@dataclass(frozen=True)
class Servers:
    """The servers `axis serve` and `axis mcp serve` run, handed in by the composition root
    (`axis.main`): the command line is a peer of the API, so it takes them instead of importing them."""

    http: HttpServer
    mcp: McpServer


#: Commands in help order: name, the module that holds it, the command's function there. A module
#: is imported only when its command runs, so `axis status` does not pay for the YAML loader, the
#: scorer, `axis clean`'s host logic or the HTTP API, which all commands importing everything
#: did (tests/test_cli_startup.py checks which modules each command imports).
COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("init", "init_cmd", "init"),
    ("apply", "apply_cmd", "apply"),
    ("diff", "diff_cmd", "diff"),
    ("controller", "controller_cmd", "controller"),
    ("get", "get_cmd", "get"),
    ("describe", "describe_cmd", "describe"),
    ("delete", "get_cmd", "delete"),
    ("suspend", "sources_cmd", "suspend"),
    ("resume", "sources_cmd", "resume"),
    ("place", "place_cmd", "place"),
    ("renew", "claims_cmd", "renew"),
    ("release", "claims_cmd", "release"),
    ("exec", "claims_cmd", "exec_"),
    ("logs", "jobs_cmd", "logs"),
    ("stop", "jobs_cmd", "stop_"),
    ("schema", "schema_cmd", "schema"),
    ("facts", "status_cmd", "facts"),
    ("status", "status_cmd", "status"),
    ("on", "on_cmd", "on"),
    ("clean", "clean_cmd", "clean"),
    ("completion", "completion_cmd", "completion"),
)
#: Command groups (a typer app of subcommands), after the commands: name, module, the app there.
#: Their modules import only typer at the top, so listing them in help imports them.
GROUPS: tuple[tuple[str, str, str], ...] = (
    ("import", "import_cmd", "import_app"),
)
#: The commands that run a server (after the others in help): `serve`, and the `mcp` group.
SERVER_COMMANDS = ("serve", "mcp")
#: Root options that take a value (so the word after them is not the command).
_VALUE_OPTIONS = frozenset({"--state", "--ssh-config", "--known-hosts", "--host-key-policy", "--connect-timeout"})


def register(only: str | None = None, servers: Servers | None = None) -> None:
    """(Re)build the app's commands: only the command named `only`, imported; or, for help and
    errors (`only` None), every command as its name and help text, read from its module's source
    without importing it (importing them all would cost `axis --help` most of a second, and a
    command that runs is registered alone); `serve` and `mcp` only with `servers` to run."""
    app.registered_commands.clear()
    app.registered_groups.clear()
    for name, module, attr in COMMANDS:
        if only == name:
            app.command(name=name)(getattr(importlib.import_module(f"axis.cli.{module}"), attr))
        elif only is None:
            app.command(name=name, help=_docstring(module, attr))(_listed_only)
    for name, module, attr in GROUPS:
        if only in (None, name):
            app.add_typer(getattr(importlib.import_module(f"axis.cli.{module}"), attr), name=name)
    if servers is None:
        return
    if only in (None, "serve"):
        from axis.cli.serve_cmd import serve_command
        app.command(name="serve")(serve_command(servers.http))
    if only in (None, "mcp"):
        from axis.cli.mcp_cmd import mcp_group
        app.add_typer(mcp_group(servers.mcp), name="mcp")


def _docstring(module: str, function: str) -> str | None:
    """The docstring of `function` in `axis.cli.<module>`, as `inspect.getdoc` gives it (typer's
    help text), from the module's source."""
    spec = importlib.util.find_spec(f"axis.cli.{module}")
    assert spec is not None and spec.origin is not None  # a module of this package
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    found = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == function)
    return ast.get_docstring(found)


def _listed_only() -> None:
    """Never runs: `register` lists commands this way only when none is invoked (help, a typo)."""


def invoked_command(args: list[str]) -> str | None:
    """The command `args` runs, if it is one of axis's; None for help, --version or a typo."""
    known = {name for name, _, _ in (*COMMANDS, *GROUPS)} | set(SERVER_COMMANDS)
    words = iter(args)
    for word in words:
        if word in _VALUE_OPTIONS:
            next(words, None)
        elif not word.startswith("-"):
            return word if word in known else None
    return None


def run(argv: list[str] | None = None, servers: Servers | None = None, connector: Connector | None = None) -> int:
    """Run one command line: exit 0 ok, 1 error (via typer.Exit: diff's 2, changes pending;
    place's 3, no host fits; on, exec and logs pass the remote command's status through).
    Without `servers` (a command line built without the API) there is no `serve` or `mcp`; with
    a `connector`, every host is reached through it rather than over SSH (tests' fake hosts)."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    # a <TAB>: the words are in the environment, not args; set but empty is no <TAB>, as for click
    completing = bool(os.environ.get(COMPLETE_VAR))
    try:
        register(completed_command(dict(os.environ), invoked_command) if completing else invoked_command(args),
                 servers)
        if completing:  # typer's bash/zsh/fish answers, which `axis completion SHELL`'s scripts ask for
            from typer.completion import completion_init
            completion_init()
        result = app(args=args, prog_name="axis", standalone_mode=False, obj=connector)
        return result if isinstance(result, int) else 0
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        print("axis: aborted", file=sys.stderr)
        return 130
    except typer.TyperException as exc:  # usage errors: typer prints them with the usage line
        show = getattr(exc, "show", None)
        show() if show else print(f"error: {exc.format_message()}", file=sys.stderr)
        return exc.exit_code
    except SpecErrors as exc:
        for error in exc.errors:
            print(f"error: {error}", file=sys.stderr)
        print(f"{len(exc.errors)} error(s); nothing was stored", file=sys.stderr)
        return 1
    except (AppError, StateError, TransportError) as exc:
        if debug:
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("axis: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # an axis bug: still one line, the traceback only on request
        if debug:
            traceback.print_exc()
        print(f"error: internal error: {type(exc).__name__}: {exc} (run with --debug for a traceback)",
              file=sys.stderr)
        return 1

