"""Guarded exec for agents: what `axis mcp serve --allow-exec` and `axis serve --allow-exec` add to
reading — create a claim, and run a command on a bound claim's host — through the same code as
the command line: the claim is stored and bound by `axis apply`'s operation, the command runs
through `axis exec`'s (`axis.app.operations.exec_on_claim`: the lease renewed while it runs, the
host's memory checked first, the job capped at the claim's memory).

Guards a person at a shell does not need:
- every exec carries `confirm: "YES"` in a field of its own, so an agent talked into a command by
  text it read must still say so, and a client that shows tool calls to a person shows that word;
- the memory check is never skipped (no `--force`) and the job is always capped (no `--no-cap`):
  an agent's job runs within its claim or not at all;
- a created claim never replaces one that exists (an apply would update it: an agent could
  otherwise move a person's claim), and it records where it came from (`metadata.source`).
What comes back is one document: the output's tail (stdout and stderr interleaved as they arrived),
the exit code, whether the job was killed for using more memory than its claim, and why.
"""

from __future__ import annotations

import json
import secrets
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, Literal

from typing_extensions import TypedDict

from axis.app import operations, queries
from axis.app.apply import apply_specs
from axis.app.context import AppContext, AppError
from axis.app.documents import ObjectView
from axis.app.operations import require_claim
from axis.hostcmd.claim_exec import ExecLost, ExecResult
from axis.specs import Kind
from axis.specs.loader import load_spec_text
from axis.specs.models import API_VERSION
from axis.state.objects import get_row

#: The word every exec call must carry in `confirm`.
CONFIRM = "YES"
#: Characters of output that come back: the end of it, where a failing command says why.
OUTPUT_TAIL = 64 * 1024


class ExecRequest(TypedDict):
    """The body of `POST /claims/{name}/exec`."""

    command: str  # one shell line, run by the login shell of the host's SSH user
    confirm: Literal["YES"]  # CONFIRM: anything else (or nothing) is refused with 400


class ExecDocument(TypedDict):
    """The answer of a command run on a claim's host (the MCP tool `exec_on_claim`, the API's exec)."""

    claim: str
    command: str
    exitCode: int  # the command's own; 137 when it was killed for memory
    oomKilled: bool  # killed because the job used more memory than its claim holds
    message: str  # what axis says about the run ("" when it has nothing to add)
    enforcement: str  # what capped the job, as the host recorded it: `cgroup|watchdog <reason>`
    output: str  # the last OUTPUT_TAIL characters of stdout and stderr, interleaved as they arrived
    outputTruncated: int  # characters left off before `output`


class NotConfirmed(AppError):
    """An exec call without `confirm: "YES"`: nothing was started."""


class ConnectionLost(AppError):
    """The connection failed while the command ran: its outcome is unknown; `output` is the tail
    of what came back before."""

    def __init__(self, message: str, output: str):
        super().__init__(message)
        self.output = output


def run_on_claim(app: AppContext, claim: str, line: str, on_output: Callable[[str, str], None]) -> ExecResult:
    """Run `line` through `axis exec`'s operation, memory-checked (never forced) and capped (never
    `--no-cap`): the one place this module calls it. Raises what it raises (ExecRefused,
    TransportError: not started, also where the host can enforce no cap; ExecLost: lost while
    running)."""
    return operations.exec_on_claim(app, claim, line, clock=time.time, force=False, on_output=on_output, cap=True)


class OutputTail:
    """The last `limit` characters of a command's output, and how many came before them."""

    def __init__(self, limit: int = OUTPUT_TAIL):
        self.limit = limit
        self.chunks: deque[str] = deque()
        self.size = 0
        self.dropped = 0

    def add(self, _stream: str, text: str) -> None:
        """An `on_output` callback: keep `text`, dropping the oldest characters past the limit."""
        self.chunks.append(text)
        self.size += len(text)
        while self.size > self.limit:
            over = self.size - self.limit
            first = self.chunks[0]
            if len(first) <= over:
                self.chunks.popleft()
                cut = len(first)
            else:
                self.chunks[0] = first[over:]
                cut = over
            self.size -= cut
            self.dropped += cut

    def text(self) -> str:
        return "".join(self.chunks)


def exec_confirmed(app: AppContext, claim: str, command: str, confirm: str) -> ExecDocument:
    """Run `command` on the host `claim` is bound to, if `confirm` is "YES"; blocking (the servers
    call it in a worker thread). NotConfirmed or AppError (empty command) before anything is
    looked up, NotFound for an unknown claim, ExecRefused/TransportError when it was not started,
    ConnectionLost (with the output so far) when the connection failed while it ran."""
    if confirm != CONFIRM:
        raise NotConfirmed(f'refused: confirm must be "{CONFIRM}" to run a command on a host '
                           f"(got {confirm[:20]!r}); nothing was started")
    if not command.strip():
        raise AppError("empty command")
    require_claim(app.db(), claim)
    tail = OutputTail()
    try:
        outcome = run_on_claim(app, claim, command, tail.add)
    except ExecLost as exc:
        raise ConnectionLost(f"connection lost while the command ran, its outcome is unknown: {exc}",
                             tail.text()) from exc
    return {"claim": claim, "command": command, "exitCode": outcome.exit_code, "oomKilled": outcome.oom_killed,
            "message": outcome.message, "enforcement": outcome.enforcement, "output": tail.text(),
            "outputTruncated": tail.dropped}


def create_claim(app: AppContext, *, task: str, name: str | None = None, requires: Mapping[str, Any] | None = None,
                 ttl: str | int | None = None, source: str) -> ObjectView:
    """Store a Claim as `axis apply` of one would (the same loader, checks and bind), recorded as
    coming from `source` (e.g. `<mcp>`), and bind it now if a host fits; the claim as `axis get
    claim NAME -o json` shows it (phase, host, reason). `name` defaults to `agent-<8 hex>`.
    AppError for a name that is taken (looked up just before the store, so only an apply of the
    same name in that instant could still be overtaken); SpecErrors (nothing stored) for what the
    loader refuses."""
    chosen = name if name is not None else f"agent-{secrets.token_hex(4)}"
    spec: dict[str, Any] = {"task": task}
    if requires is not None:
        spec["requires"] = dict(requires)
    if ttl is not None:
        spec["ttl"] = ttl
    document = {"apiVersion": API_VERSION, "kind": str(Kind.CLAIM), "metadata": {"name": chosen}, "spec": spec}
    # JSON is YAML: the document is serialised, never pasted into text, and read by the loader
    loaded = load_spec_text(json.dumps(document), source)
    with app.db().read() as session:
        row = get_row(session, Kind.CLAIM, chosen)
        if row is not None:
            raise AppError(f"{Kind.CLAIM} {chosen!r} exists already (from {row.source_path}:{row.source_line}); "
                           "an agent never replaces a claim: choose another name")
    apply_specs(app, loaded)
    return queries.object_one(app.db(), Kind.CLAIM, chosen)
