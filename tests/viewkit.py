"""The documents every front end shows (`axis ... -o json`, the HTTP API, the MCP tools), compared
across them: shared by tests/test_api.py and tests/test_mcp.py."""

from __future__ import annotations

from typing import Any


def steady(doc: Any) -> Any:
    """The document without the fields that move with the clock between two reads (ages, time
    left on a lease), so that two front ends' answers read a moment apart compare equal."""
    if isinstance(doc, dict):
        return {k: steady(v) for k, v in doc.items() if k not in ("age", "expiresIn")}
    if isinstance(doc, list):
        return [steady(v) for v in doc]
    return doc
