"""`axis import pool|axis-nodes|ansible|ssh-config`: specs from the inventory a user brings.

Each subcommand reads one source (axis.adopt) and writes one spec file per object into `--out`
(default specs/), or prints them with `--stdout`. Nothing is written unless every entry of the
source converts and every object loads as `axis apply` would load it; an existing file is only
overwritten with `--force`. A problem is one line `file:line: field: message`, exit 1.
Importing axis.adopt (ruamel, pydantic) waits for the command to run: `axis --help` stays light.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from axis.adopt.drafts import Draft

import_app = typer.Typer(no_args_is_help=True, help="Write specs from a pool, AXIS, Ansible or ssh_config inventory.")

_OUT = typer.Option(Path("specs"), "--out", help="directory the spec files are written to")
_FORCE = typer.Option(False, "--force", help="overwrite spec files that already exist")
_STDOUT = typer.Option(False, "--stdout", help="print the specs instead of writing files")


def _emit(make: Callable[[], list[Draft]], out: Path, force: bool, stdout: bool,
          root_option: str | None = None) -> None:
    """Run an importer, then print or write what it made; its problems one line each, exit 1.
    `root_option` is an axis option every later command needs to reach the hosts (said in the hint)."""
    from axis.adopt.drafts import ImportFailed
    from axis.adopt.writer import check, stream, write

    try:
        drafts = make()
        if stdout:
            check(drafts)
            typer.echo(stream(drafts), nl=False)
            return
        written = write(drafts, out, force=force)
    except ImportFailed as exc:
        for problem in exc.problems:
            typer.echo(f"error: {problem}", err=True)
        done = (f"written before it failed: {', '.join(str(p) for p in exc.written)}" if exc.written
                else "nothing was written")
        typer.echo(f"{len(exc.problems)} error(s); {done}", err=True)
        raise typer.Exit(1) from None
    for path in written:
        typer.echo(f"wrote {path}")
    if root_option is None:
        typer.echo(f"next: `axis diff -f {out}` shows what applying them would change", err=True)
    else:
        typer.echo(f"next: `axis {root_option} diff -f {out}` shows what applying them would change; every axis "
                   f"command that reaches these hosts needs `{root_option}`", err=True)


@import_app.command("pool")
def pool(
    file: Path | None = typer.Argument(None, help="pool's roster [default: $POOL_STATE, else ~/.pool/pool.json]"),
    exclude: list[str] | None = typer.Option(None, "--exclude",
                                             help="a host whose name contains this was left out of pool's "
                                                  "fan-outs and init: fanout false, no pool-init profile "
                                                  "(repeatable; replaces pool's own: pi5-akida)"),
    out: Path = _OUT, force: bool = _FORCE, stdout: bool = _STDOUT,
) -> None:
    """Hosts from pool's pool.json, and a `pool-init` HostProfile with the eight features
    `pool init` set up on them."""
    from axis.adopt.pool import POOL_EXCLUDED, default_file, import_pool
    _emit(lambda: import_pool(file or default_file(), exclude or POOL_EXCLUDED), out, force, stdout)


@import_app.command("axis-nodes")
def axis_nodes(
    file: Path | None = typer.Argument(None, help="AXIS's node list [default: ~/.axis/nodes.yaml]"),
    out: Path = _OUT, force: bool = _FORCE, stdout: bool = _STDOUT,
) -> None:
    """Hosts from the AXIS (Go) tool's nodes.yaml: name, hostname, ssh_user, ssh_port; role as
    the `role` label."""
    from axis.adopt.axis_nodes import default_file, import_axis_nodes
    _emit(lambda: import_axis_nodes(file or default_file()), out, force, stdout)


@import_app.command("ansible")
def ansible(
    inventory: Path = typer.Argument(..., help="an Ansible inventory file, INI or YAML"),
    out: Path = _OUT, force: bool = _FORCE, stdout: bool = _STDOUT,
) -> None:
    """Hosts from an Ansible inventory: groups as `ansible-group/NAME` labels, ansible_host,
    ansible_port, ansible_user and ansible_become, following children groups, group vars and
    the group_vars/ and host_vars/ directories beside the inventory."""
    from axis.adopt.ansible import import_ansible
    _emit(lambda: import_ansible(inventory), out, force, stdout)


@import_app.command("ssh-config")
def ssh_config(
    file: Path | None = typer.Argument(None, help="ssh_config file, passed to `ssh -F` [default: ~/.ssh/config "
                                                  "of your passwd home, as ssh reads it]"),
    match: str | None = typer.Option(None, "--match", help="only aliases matching this glob (`web-*`)"),
    sudo: bool = typer.Option(False, "--sudo", help="the hosts' users may run sudo: sudo true on every host"),
    out: Path = _OUT, force: bool = _FORCE, stdout: bool = _STDOUT,
) -> None:
    """Hosts from the aliases of an ssh_config (each `Host` name without wildcards), each resolved
    by `ssh -G` as OpenSSH would (Include, Match, ProxyJump); the alias stays the address, so later
    axis commands need `axis --ssh-config FILE` when a FILE is given."""
    from axis.adopt.ssh_config import connect_option, default_file, import_ssh_config
    _emit(lambda: import_ssh_config(file, match, sudo=sudo), out, force, stdout,
          connect_option(file or default_file()))
