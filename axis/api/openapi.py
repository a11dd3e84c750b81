"""The OpenAPI 3.1 document, generated from the same endpoint table that builds the routes, so it
cannot list a route that does not exist or miss one that does. Each endpoint names the type of
its 200 document (`axis.app.documents`), whose JSON Schema pydantic writes: the schemas a client
reads are the types the view code is checked against."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter
from starlette.requests import Request
from starlette.responses import Response

from axis import __version__

Handler = Callable[[Request], Awaitable[Response]]

_STATUS_TEXT = {400: "invalid request (the body lists every problem)", 401: "missing or wrong bearer token",
                403: "turned off on this server (the error says which `axis serve` option turns it on)",
                404: "no such object", 409: "the request conflicts with the ledger's state, or the stored claim no longer validates",
                413: "request body too large",
                500: "the state DB cannot be used (the error names the file and what to do), or an axis bug",
                502: "the host could not be reached, or the connection to it was lost (the error says which)"}


@dataclass(frozen=True)
class Param:
    name: str
    type: str  # a JSON Schema type
    description: str
    default: Any = None


@dataclass(frozen=True)
class Endpoint:
    """One route and what its document says about it."""

    method: str
    path: str  # Starlette syntax, `{name}` for path parameters (as OpenAPI writes them too)
    handler: Handler
    summary: str
    response: Any  # the type of its 200 document, e.g. axis.app.documents.ObjectList
    query: tuple[Param, ...] = ()
    body: str | None = None  # media type of the request body, if it takes one
    body_schema: Any = None  # the type of a JSON body (e.g. axis.app.guarded_exec.ExecRequest); else a string
    errors: tuple[int, ...] = ()  # besides 401 and 500 (JSON too), which every endpoint can answer


def document(endpoints: list[Endpoint]) -> dict[str, Any]:
    responses, schemas = response_schemas(endpoints)
    paths: dict[str, dict[str, Any]] = {}
    for e, response in zip(endpoints, responses, strict=True):
        paths.setdefault(e.path, {})[e.method.lower()] = _operation(e, response)
    return {
        "openapi": "3.1.0",
        "info": {"title": "axis", "version": __version__,
                 "description": "Local HTTP API of axis: read hosts, facts, claims, leases, events, git sources "
                                "and status; apply a YAML body; renew or release a claim; suspend or resume "
                                "a source; run a command on a claim's host (`axis serve --allow-exec`). Every request needs "
                                "`Authorization: Bearer <token>` (the token file is printed by `axis serve`)."},
        "components": {"schemas": schemas, "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
        "paths": paths,
    }


def response_schemas(endpoints: list[Endpoint]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Each endpoint's 200 schema, in table order, and the named schemas they refer to (for
    `components.schemas`: a document type used by several endpoints is written once)."""
    keyed, defs = TypeAdapter.json_schemas([(i, "serialization", TypeAdapter(e.response)) for i, e in enumerate(endpoints)],
                                           ref_template="#/components/schemas/{model}")
    return [keyed[(i, "serialization")] for i in range(len(endpoints))], defs.get("$defs", {})


def _operation(e: Endpoint, response: dict[str, Any]) -> dict[str, Any]:
    params = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
              for name in re.findall(r"{(\w+)}", e.path)]
    for q in e.query:
        schema: dict[str, Any] = {"type": q.type}
        if q.default is not None:
            schema["default"] = q.default
        params.append({"name": q.name, "in": "query", "required": False, "description": q.description,
                       "schema": schema})
    json_body = {"application/json": {"schema": {"type": "object"}}}
    responses: dict[str, Any] = {"200": {"description": "OK", "content": {"application/json": {"schema": response}}}}
    for code in sorted(_STATUS_TEXT):
        if code in (401, 500) or code in e.errors:
            responses[str(code)] = {"description": _STATUS_TEXT[code], "content": json_body}
    op: dict[str, Any] = {"operationId": e.handler.__name__.strip("_"), "summary": e.summary, "responses": responses}
    if params:
        op["parameters"] = params
    if e.body:
        schema = TypeAdapter(e.body_schema).json_schema() if e.body_schema else {"type": "string"}
        op["requestBody"] = {"required": True, "content": {e.body: {"schema": schema}}}
    return op
