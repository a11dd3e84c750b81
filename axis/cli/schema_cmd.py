"""`axis schema`: JSON Schema of the spec kinds, generated from the models, for editor completion."""

from __future__ import annotations

import json
from typing import Any

import typer
from pydantic.json_schema import models_json_schema

from axis.app.context import AppError
from axis.specs import API_VERSION, KINDS, MODELS, Kind


def schema_document(kind: Kind | None = None) -> dict[str, Any]:
    """One kind's schema, or a combined one that picks the kind by its `kind` field."""
    if kind is not None:
        model = MODELS[kind]
        doc = model.model_json_schema(by_alias=True)
        doc["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        return doc
    _, combined = models_json_schema([(MODELS[k], "validation") for k in KINDS], by_alias=True,
                                     title=f"{API_VERSION} spec object")
    combined["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    combined["oneOf"] = [{"$ref": f"#/$defs/{k}"} for k in KINDS]
    return combined


def schema(kind: str | None = typer.Argument(None, help="Host, HostProfile or Claim; all when omitted")) -> None:
    """Print the JSON Schema of the spec kinds."""
    match = None
    if kind is not None:
        match = {k.lower(): k for k in KINDS}.get(kind.lower())
        if match is None:
            raise AppError(f"unknown kind {kind!r} (expected one of {', '.join(KINDS)})")
    typer.echo(json.dumps(schema_document(match), indent=2))
