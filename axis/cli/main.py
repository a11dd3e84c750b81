"""The `axis` command line: a typer app whose errors are one clear line each, never a traceback."""

from __future__ import annotations

import importlib
import sys
import traceback
from pathlib import Path

import typer

from axis import __version__
from axis.cli.context import AppContext, CliError
from axis.drivers.connector import SshOptions
from axis.drivers.hostkeys import HostKeyPolicy
from axis.drivers.transport import TransportError
from axis.specs import SpecErrors
from axis.state import StateError, state_path

app = typer.Typer(
    name="axis", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    help="Declarative reconciler for a small fleet of machines reached over SSH.",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"axis {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    state: Path | None = typer.Option(None, "--state", envvar="AXIS_STATE", show_envvar=True,
                                      help="state DB file [default: ~/.axis/state.db]"),
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
    ssh = SshOptions(ssh_config=ssh_config, known_hosts=known_hosts, policy=host_key_policy,
                     connect_timeout=connect_timeout)
    ctx.obj = AppContext(state=state_path(state), debug=debug, ssh=ssh)


#: Commands in help order: name, module, function. A module is imported only when its command
#: runs (or for help and unknown commands): `axis status` does not pay for the YAML loader, the
#: scorer, the clean-up script or the HTTP API, which all commands importing everything did.
COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("apply", "axis.cli.apply_cmd", "apply"),
    ("diff", "axis.cli.diff_cmd", "diff"),
    ("controller", "axis.cli.controller_cmd", "controller"),
    ("get", "axis.cli.get_cmd", "get"),
    ("describe", "axis.cli.get_cmd", "describe"),
    ("delete", "axis.cli.get_cmd", "delete"),
    ("place", "axis.cli.claims_cmd", "place"),
    ("renew", "axis.cli.claims_cmd", "renew"),
    ("release", "axis.cli.claims_cmd", "release"),
    ("exec", "axis.cli.claims_cmd", "exec_"),
    ("schema", "axis.cli.schema_cmd", "schema"),
    ("facts", "axis.cli.fleet_cmd", "facts"),
    ("status", "axis.cli.fleet_cmd", "status"),
    ("on", "axis.cli.on_cmd", "on"),
    ("clean", "axis.cli.clean_cmd", "clean"),
    ("serve", "axis.api.serve_cmd", "serve"),
)
#: Sub-apps (command groups): name, module, typer app.
GROUPS: tuple[tuple[str, str, str], ...] = (("mcp", "axis.api.mcp_cmd", "app"),)
#: Root options that take a value (so the word after them is not the command).
_VALUE_OPTIONS = frozenset({"--state", "--ssh-config", "--known-hosts", "--host-key-policy", "--connect-timeout"})


def register(only: str | None = None) -> None:
    """(Re)build the app's commands: all of them, or only the command named `only`."""
    app.registered_commands.clear()
    app.registered_groups.clear()
    for name, module, attr in COMMANDS:
        if only is None or name == only:
            app.command(name=name)(getattr(importlib.import_module(module), attr))
    for name, module, attr in GROUPS:
        if only is None or name == only:
            app.add_typer(getattr(importlib.import_module(module), attr), name=name)


def invoked_command(args: list[str]) -> str | None:
    """The command `args` runs, if it is one of axis's; None for help, --version or a typo."""
    known = {name for name, _, _ in (*COMMANDS, *GROUPS)}
    words = iter(args)
    for word in words:
        if word in _VALUE_OPTIONS:
            next(words, None)
        elif not word.startswith("-"):
            return word if word in known else None
    return None


def run(argv: list[str] | None = None) -> int:
    """Entry point: exit 0 ok, 1 error (diff uses 2 for pending changes via typer.Exit)."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        register(invoked_command(args))
        result = app(args=args, prog_name="axis", standalone_mode=False)
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
    except (CliError, StateError, TransportError) as exc:
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


def main() -> None:
    sys.exit(run())
