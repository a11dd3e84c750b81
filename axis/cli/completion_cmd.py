"""`axis completion bash|zsh|fish`: the script that makes a shell complete axis's commands,
options, and the host, profile and claim names in the state DB (`axis.cli.completion`)."""

from __future__ import annotations

from enum import StrEnum

import typer

from axis.cli.completion import COMPLETE_VAR


class Shell(StrEnum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


def completion(shell: Shell = typer.Argument(..., help="bash, zsh or fish")) -> None:
    """Print the shell's completion script: `eval "$(axis completion bash)"` in ~/.bashrc,
    `eval "$(axis completion zsh)"` in ~/.zshrc, `axis completion fish | source` in fish's config."""
    from typer.completion import get_completion_script

    typer.echo(get_completion_script(prog_name="axis", complete_var=COMPLETE_VAR, shell=shell.value))
