"""Observing hosts: one connection and one facts script per host, hosts concurrently.

Every outcome is an Observation (complete, partial, unreachable or error, with the reason), so a
dead host is reported alone while the others are stored and shown.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from axis.drivers.connector import Connector, with_connection
from axis.drivers.facts import Facts, build_script, facts_from
from axis.drivers.facts.sections import ScriptOutput, split_sections
from axis.drivers.fan_out import fan_out
from axis.drivers.transport import ErrorKind, Transport, TransportError
from axis.specs import Claim, Host

if TYPE_CHECKING:  # the state DB's modules (SQLAlchemy's tables) load on the first outcome, see to_observation
    from axis.state.facts import Observation

#: A host that cannot be reached at all, as opposed to one that answered badly.
_UNREACHABLE = {ErrorKind.UNREACHABLE, ErrorKind.TIMEOUT}


def claim_tools(claims: Iterable[Claim]) -> list[str]:
    """Tools that claims ask for, added to the inventory so placement can check them."""
    return sorted({tool for claim in claims for tool in claim.spec.requires.tools})


async def run_facts_script(transport: Transport, extra_tools: Iterable[str] = (),
                           probes: Mapping[str, str] | None = None,
                           timeout: float = 30.0, *, root_probes: Mapping[str, str] | None = None,
                           root_shell: str = "") -> tuple[Facts, ScriptOutput]:
    """The facts script (with the features' `probes` as extra sections, and `root_probes` run by
    one `root_shell`: see `build_script`) in one round trip on an open connection: the facts, and
    the output split once into sections (the drivers read theirs)."""
    # a fresh boundary, sent on stdin: never in argv
    script = build_script(extra_tools, probes, root_sections=root_probes, root_shell=root_shell)
    result = await transport.run("sh -s", input=script.text, timeout=timeout)
    out = split_sections(result.stdout, script.boundary)
    return facts_from(out, stderr=result.stderr), out


async def gather_facts(transport: Transport, extra_tools: Iterable[str] = (), timeout: float = 30.0) -> Facts:
    """All of a host's facts in one round trip on an open connection."""
    return (await run_facts_script(transport, extra_tools, timeout=timeout))[0]


def to_observation(host: str, facts: Facts | None, error: Exception | None) -> Observation:
    """The outcome of one host's observation, as stored. Imported here, not at the top: `axis
    status` opens its connections first and loads the state DB's table modules while they are in
    flight (`axis.app.observe`)."""
    from axis.state.facts import Observation

    now = time.time()
    if facts is not None:
        reason = "; ".join(f"{k}: {v}" for k, v in sorted(facts.missing.items())) if facts.status == "partial" else ""
        return Observation(host, facts.status, reason, facts.model_dump(mode="json"), now)
    if isinstance(error, TransportError):
        status = "unreachable" if error.kind in _UNREACHABLE else "error"
        return Observation(host, status, str(error), None, now)
    return Observation(host, "error", f"{host}: {type(error).__name__}: {error}", None, now)


async def observe_host(host: Host, connector: Connector, *, extra_tools: Iterable[str] = (),
                       timeout: float = 30.0) -> Observation:
    """Connect, gather, close; never raises: failures become an Observation with the reason."""
    name = host.metadata.name
    deadline = asyncio.get_running_loop().time() + timeout
    try:
        facts = await with_connection(host, connector, deadline, lambda t, _left: gather_facts(t, extra_tools, timeout))
    except TimeoutError:
        return to_observation(name, None, TransportError(ErrorKind.TIMEOUT, name, f"no answer within {timeout:g}s"))
    except (TransportError, OSError) as exc:
        return to_observation(name, None, exc)
    return to_observation(name, facts, None)


async def observe_fleet(hosts: list[Host], connector: Connector, *, jobs: int = 32, timeout: float = 30.0,
                        extra_tools: Iterable[str] = (),
                        on_done: Callable[[Host, Observation], None] | None = None) -> list[Observation]:
    tools = list(extra_tools)
    return await fan_out(hosts, lambda h: observe_host(h, connector, extra_tools=tools, timeout=timeout),
                         jobs=jobs, on_done=on_done)
