"""The API's endpoints: thin async handlers over `axis.app`'s queries and operations (`apply`,
suspending a git source, a confirmed exec on a claim) and the lease ledger.

All DB work is synchronous SQLAlchemy, so every handler runs it in Starlette's thread pool:
a request waiting for the write lock (the controller's pass, an `axis apply` in a shell) or
for a slow host during `POST /apply` never stalls the event loop that serves the others.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from axis import __version__
from axis.api.apply import REQUEST_PATH, apply_yaml
from axis.api.openapi import Endpoint, Param, document
from axis.app import queries
from axis.app.controller_members import ControllerList
from axis.app.claims import lease_view
from axis.app.context import AppContext, AppError, NotFound
from axis.app.documents import (
    AppliedDocument,
    ClusterStatus,
    ControllerHealth,
    EventList,
    Health,
    LeaseList,
    LeaseView,
    ObjectList,
    ObjectView,
    Observation,
)
from axis.app import operations
from axis.app.operations import require_claim
from axis.app.guarded_exec import ConnectionLost, ExecDocument, ExecRequest, exec_confirmed
from axis.app.sources import SourceDocument, SourceList
from axis.drivers.transport import TransportError
from axis.hostcmd.claim_exec import ExecRefused
from axis.placement.ledger import LedgerError, release as release_lease, renew as renew_lease
from axis.specs import Kind, SpecErrors
from axis.specs.bounded_yaml import MAX_SPEC_BYTES
from axis.specs.loader import decode_spec_bytes
from axis.specs.units import parse_duration
from axis.state import Database
from axis.state.stored_specs import StoredSpecInvalid

#: Largest request body accepted: the loader's limit for a spec file (a spec set is a few KiB).
MAX_BODY = MAX_SPEC_BYTES
#: Event ids are SQLite INTEGERs.
MAX_EVENT_ID = 2**63 - 1
_EVENT_ID = re.compile(r"[0-9]{1,19}")


def error(status: int, message: str, **extra: Any) -> JSONResponse:
    """Every error has one shape: `{"error": "...", ...}`."""
    return JSONResponse({"error": message, **extra}, status_code=status)


def _app(request: Request) -> AppContext:
    return request.app.state.axis


async def _read(request: Request, fn: Callable[..., Mapping[str, Any]], *args: Any) -> Response:
    try:
        return JSONResponse(await run_in_threadpool(fn, _app(request).db(), *args))
    except NotFound as exc:
        return error(404, str(exc.args[0]))
    except StoredSpecInvalid as exc:  # that object's stored spec: the client can re-apply or delete it
        return error(409, str(exc))


async def health(request: Request) -> Response:
    doc: Health = {"status": "ok", "version": __version__, "state": str(_app(request).state)}
    return JSONResponse(doc)


async def list_hosts(request: Request) -> Response:
    return await _read(request, queries.object_list, Kind.HOST)


async def get_host(request: Request) -> Response:
    return await _read(request, queries.object_one, Kind.HOST, request.path_params["name"])


async def get_facts(request: Request) -> Response:
    return await _read(request, queries.host_facts, request.path_params["name"])


async def list_claims(request: Request) -> Response:
    return await _read(request, queries.object_list, Kind.CLAIM)


async def get_claim(request: Request) -> Response:
    return await _read(request, queries.object_one, Kind.CLAIM, request.path_params["name"])


async def list_leases(request: Request) -> Response:
    return await _read(request, queries.lease_list)


async def list_events(request: Request) -> Response:
    text = request.query_params.get("after", "0")
    # ASCII digits only (str.isdigit() takes '²', which int() refuses), and an id SQLite can hold
    if not _EVENT_ID.fullmatch(text) or int(text) > MAX_EVENT_ID:
        return error(400, f"after: expected an event id, a whole number from 0 to {MAX_EVENT_ID}, got {text[:40]!r}")
    return await _read(request, queries.event_list, int(text))


async def cluster_status(request: Request) -> Response:
    return await _read(request, queries.cluster_status)


async def get_controller(request: Request) -> Response:
    return await _read(request, queries.controller)


async def list_controllers(request: Request) -> Response:
    return await _read(request, queries.controllers)


async def list_sources(request: Request) -> Response:
    return await _read(request, queries.source_list)


async def get_source(request: Request) -> Response:
    return await _read(request, queries.source_one, request.path_params["name"])


async def suspend_source(request: Request) -> Response:
    return await _read(request, operations.suspend_source, request.path_params["name"])


async def resume_source(request: Request) -> Response:
    return await _read(request, operations.resume_source, request.path_params["name"])


async def apply(request: Request) -> Response:
    dry_run, converge = _flag(request, "dryRun", False), _flag(request, "converge", True)
    body = await _body(request)
    try:
        text = decode_spec_bytes(body, REQUEST_PATH)
        doc = await run_in_threadpool(apply_yaml, _app(request), text, dry_run=dry_run, converge=converge)
    except SpecErrors as exc:
        return error(400, f"{len(exc.errors)} error(s); nothing was stored", errors=[str(e) for e in exc.errors])
    return JSONResponse(doc)


async def renew(request: Request) -> Response:
    ttl_text = request.query_params.get("ttl")
    try:
        ttl = parse_duration(ttl_text) if ttl_text else None
    except ValueError as exc:
        return error(400, f"ttl: {exc}")
    return await _ledger(request, lambda db, name, now: renew_lease(db, name, now=now, ttl=ttl))


async def release(request: Request) -> Response:
    return await _ledger(request, lambda db, name, now: release_lease(db, name, now=now))


async def exec_on_claim(request: Request) -> Response:
    """400 for a body that is not {command, confirm: "YES"}, 404 no such claim, 409 not started
    (no live lease, too little memory), 502 host unreachable or lost while the command ran."""
    if not request.app.state.allow_exec:
        return error(403, "exec is off: this API runs commands on hosts only when started with "
                          "`axis serve --allow-exec`")
    command, confirm = _exec_request(await _body(request))
    try:
        doc = await run_in_threadpool(exec_confirmed, _app(request), request.path_params["name"], command, confirm)
    except NotFound as exc:
        return error(404, str(exc.args[0]))
    except (ExecRefused, TransportError) as exc:
        return error(409 if isinstance(exc, ExecRefused) else 502, f"not started: {exc}")
    except ConnectionLost as exc:
        return error(502, str(exc), output=exc.output)
    except AppError as exc:  # NotConfirmed, an empty command
        return error(400, str(exc))
    return JSONResponse(doc)


def _exec_request(body: bytes) -> tuple[str, str]:
    """`command` and `confirm` of a JSON body (an ExecRequest), else 400 saying what is wrong."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # not UTF-8, not JSON, or nested past the parser's depth
        raise HTTPException(400, 'expected a JSON object {"command": "...", "confirm": "YES"}') from None
    if not isinstance(data, dict) or set(data) - set(ExecRequest.__annotations__):
        raise HTTPException(400, f"expected a JSON object with only {', '.join(ExecRequest.__annotations__)}")
    command, confirm = data.get("command"), data.get("confirm", "")
    if not isinstance(command, str) or not isinstance(confirm, str):
        raise HTTPException(400, "command (required) and confirm must be strings")
    return command, confirm


async def openapi(request: Request) -> Response:
    return JSONResponse(document(ENDPOINTS))


async def _ledger(request: Request, change: Callable[..., Any]) -> Response:
    """Renew or release a claim: 404 if there is no such claim, 409 if the ledger refuses."""
    name = request.path_params["name"]

    def run(db: Database) -> LeaseView:
        require_claim(db, name)
        now = time.time()
        return lease_view(change(db, name, now), now)
    try:
        return await _read(request, run)
    except LedgerError as exc:
        return error(409, str(exc))


def _flag(request: Request, name: str, default: bool) -> bool:
    text = request.query_params.get(name)
    if text is None:
        return default
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise HTTPException(400, f"{name}: expected true or false, got {text!r}")


async def _body(request: Request) -> bytes:
    """The body, refused with 413 once it passes MAX_BODY: at once when Content-Length says so,
    else while it streams in, so an endless chunked body is never held in memory."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise HTTPException(413, f"request body larger than {MAX_BODY} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise HTTPException(413, f"request body larger than {MAX_BODY} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


_CONVERGE = Param("converge", "boolean", "false: store only, as `axis apply --no-converge`", True)
ENDPOINTS: list[Endpoint] = [
    Endpoint("GET", "/health", health, "liveness, version and state DB path", Health),
    Endpoint("GET", "/hosts", list_hosts, "every host with its effective features and latest observation", ObjectList),
    Endpoint("GET", "/hosts/{name}", get_host, "one host: spec, status and its newest facts", ObjectView, errors=(404,)),
    Endpoint("GET", "/facts/{name}", get_facts, "a host's latest observation with its full facts", Observation, errors=(404,)),
    Endpoint("GET", "/claims", list_claims, "every claim with its phase, host and reason", ObjectList),
    Endpoint("GET", "/claims/{name}", get_claim, "one claim with its phase, host and reason", ObjectView, errors=(404,)),
    Endpoint("GET", "/leases", list_leases, "the lease ledger", LeaseList),
    Endpoint("GET", "/events", list_events, "the event log, oldest first", EventList,
             (Param("after", "integer", "only events with a larger id (poll with the last id seen)", 0),),
             errors=(400,)),
    Endpoint("GET", "/status", cluster_status, "cluster snapshot from stored facts (`axis status --cached`)", ClusterStatus),
    Endpoint("GET", "/controller", get_controller, "the controller's health: each part's condition and its "
                                                   "recent events (`axis get controller`)", ControllerHealth),
    Endpoint("GET", "/controllers", list_controllers, "the controllers sharing the state DB: each one's state, "
                                                      "last heartbeat, hosts and whether it leads "
                                                      "(`axis get controllers`)", ControllerList),
    Endpoint("GET", "/sources", list_sources, "every git source a controller follows: revisions, conditions, "
                                              "last attempts (`axis get sources`)", SourceList),
    Endpoint("GET", "/sources/{name}", get_source, "one git source", SourceDocument, errors=(404,)),
    Endpoint("POST", "/sources/{name}/suspend", suspend_source, "stop applying the source's new revisions and repairing "
                                                        "drift, until resumed", SourceDocument, errors=(404,)),
    Endpoint("POST", "/sources/{name}/resume", resume_source, "apply the source's revisions and repair drift again",
             SourceDocument, errors=(404,)),
    Endpoint("POST", "/apply", apply, "store the objects of a YAML body, converge their hosts, bind claims", AppliedDocument,
             (Param("dryRun", "boolean", "store nothing; answer with the changes and the plan", False), _CONVERGE),
             body="application/yaml", errors=(400, 413)),
    Endpoint("POST", "/claims/{name}/renew", renew, "extend the claim's lease, or place an unbound claim now", LeaseView,
             (Param("ttl", "string", "new time to live from now, e.g. 30m (default: the claim's ttl)"),),
             errors=(400, 404, 409)),
    Endpoint("POST", "/claims/{name}/release", release, "free the claim's lease; the claim stays Released", LeaseView,
             errors=(404, 409)),
    Endpoint("POST", "/claims/{name}/exec", exec_on_claim, "run a shell line on the claim's host as `axis exec` "
             '(capped at its memory); only under `axis serve --allow-exec`, and with confirm "YES"', ExecDocument,
             body="application/json", body_schema=ExecRequest, errors=(400, 403, 404, 409, 413, 502)),
    Endpoint("GET", "/openapi.json", openapi, "this document", dict[str, Any]),
]
