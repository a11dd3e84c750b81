"""The `axis` command line: a typer app whose errors are one clear line each, never a traceback."""

from __future__ import annotations

import sys
import traceback
from pathlib import Path

import typer

from axis import __version__
from axis.api import mcp_cmd, serve_cmd
from axis.cli import apply_cmd, clean_cmd, controller_cmd, diff_cmd, fleet_cmd, get_cmd, on_cmd, schema_cmd
from axis.cli import claims_cmd
from axis.cli.context import AppContext, CliError
from axis.drivers.hostkeys import HostKeyPolicy
from axis.drivers.transport import TransportError
from axis.reconciler.fleet import SshOptions
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


app.command()(apply_cmd.apply)
app.command()(diff_cmd.diff)
app.command()(controller_cmd.controller)
app.command()(get_cmd.get)
app.command()(get_cmd.describe)
app.command()(get_cmd.delete)
app.command()(claims_cmd.place)
app.command()(claims_cmd.renew)
app.command()(claims_cmd.release)
app.command(name="exec")(claims_cmd.exec_)
app.command()(schema_cmd.schema)
app.command()(fleet_cmd.facts)
app.command()(fleet_cmd.status)
app.command(name="on")(on_cmd.on)
app.command()(clean_cmd.clean)
app.command()(serve_cmd.serve)
app.add_typer(mcp_cmd.app, name="mcp")


def run(argv: list[str] | None = None) -> int:
    """Entry point: exit 0 ok, 1 error (diff uses 2 for pending changes via typer.Exit)."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
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
