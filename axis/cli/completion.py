"""Shell completion's names: the hosts, profiles and claims in the state DB, for the arguments
that name one (`axis get host <TAB>`, `axis on <TAB>`, `axis exec <TAB>`). Read through the plain
DB-API snapshot (`axis.state.dbapi.direct_snapshot`), as `axis get` reads: no ORM, no SSH.
Completing runs at every <TAB>, so it never creates or upgrades a DB and never fails nor prints:
no DB, a DB it cannot read, a word it cannot place: no names."""

from __future__ import annotations

from collections.abc import Callable

import typer

#: The command whose argument is completed is the only one registered (`axis.cli.main.run`): the
#: environment variable click's completion scripts set for `axis`, which says a <TAB> is asked.
COMPLETE_VAR = "_AXIS_COMPLETE"
#: The kinds whose names are completed (axis.specs.Kind's values: importing it would load pydantic
#: for every command, `axis --version` included, since the command line imports this module).
HOST, HOST_PROFILE, CLAIM = "Host", "HostProfile", "Claim"
#: How long a <TAB> waits for a PostgreSQL server to answer, in seconds (libpq's minimum is 2):
#: one that does not answer would otherwise hold every <TAB> for the 10 s commands wait.
CONNECT_TIMEOUT_S = 2


def _names(ctx: typer.Context, kind: str, incomplete: str) -> list[str]:
    """The names of `kind` in the state DB that `--state`/AXIS_STATE names, that start with
    `incomplete`, sorted; [] whatever goes wrong (completion must stay silent). Only names the
    specs accept (DNS labels): zsh evaluates the words it is handed, and a DB written by other
    means than `axis apply` (a shared server, a copied file) may hold `b$(touch X)`."""
    from axis.specs.names import DNS_LABEL_RE
    from axis.state.dbapi import direct_snapshot
    from axis.state.location import state_location

    try:
        location = state_location(ctx.find_root().params.get("state"))
        with direct_snapshot(location, connect_timeout=CONNECT_TIMEOUT_S) as snap:
            names = [] if snap is None else [row.name for row in snap.objects(kind)]
    except Exception:  # noqa: BLE001 - a <TAB> shows no names rather than an error
        return []
    return sorted(n for n in names if n.startswith(incomplete) and DNS_LABEL_RE.fullmatch(n))


def host_names(ctx: typer.Context, incomplete: str) -> list[str]:
    """A host's name."""
    return _names(ctx, HOST, incomplete)


def fanout_targets(ctx: typer.Context, incomplete: str) -> list[str]:
    """`all`, or a host's name (`axis on`, `axis clean`)."""
    return (["all"] if "all".startswith(incomplete) else []) + host_names(ctx, incomplete)


def claim_names(ctx: typer.Context, incomplete: str) -> list[str]:
    """A claim's name (`axis renew|release|exec|logs|stop`)."""
    return _names(ctx, CLAIM, incomplete)


def object_names(ctx: typer.Context, incomplete: str) -> list[str]:
    """A name of the kind the command's RESOURCE argument says (`axis get|describe|delete`)."""
    from axis.cli.kinds import GET, resolve_kind

    resource = ctx.params.get("resource")
    try:
        kind = resolve_kind(str(resource), GET)
    except Exception:  # noqa: BLE001 - no resource yet, or one that names no desired kind
        return []
    return _names(ctx, kind, incomplete) if kind in (HOST, HOST_PROFILE, CLAIM) else []


def resource_words(ctx: typer.Context, incomplete: str) -> list[str]:
    """The resource words the command (`get`, `describe`, `delete`) takes: `hosts`, `claim`, …"""
    from axis.cli.kinds import DELETE, DESCRIBE, GET, KIND_WORDS

    accepts = {"get": GET, "describe": DESCRIBE, "delete": DELETE}.get(ctx.info_name or "", GET)
    return [w for w, kind in KIND_WORDS.items() if kind in accepts.kinds and w.startswith(incomplete)]


def completed_command(env: dict[str, str], invoked: Callable[[list[str]], str | None]) -> str | None:
    """The command a <TAB> completes an argument of, from the words the shell hands over (bash:
    COMP_WORDS; zsh and fish: _TYPER_COMPLETE_ARGS), so that only it is registered, with its
    parameters; None while the command's own name is completed."""
    import shlex

    line = env.get("COMP_WORDS") or env.get("_TYPER_COMPLETE_ARGS", "")
    try:
        words = shlex.split(line)
    except ValueError:  # an open quote in the word being typed
        words = line.split()
    return invoked(words[1:])
