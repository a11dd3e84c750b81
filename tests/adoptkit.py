"""Helpers of the importer tests: the fixture files, and what an import wrote, loaded."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from axis.specs.loader import load_specs

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "adopt"


def copied(name: str, into: Path) -> Path:
    """A copy of the fixture file or directory `name` under `into` (tests may change it)."""
    source, target = FIXTURES / name, into / name
    if source.is_dir():
        shutil.copytree(source, target)
    else:
        shutil.copy(source, target)
    return target


def objects(out: Path) -> dict[str, dict[str, Any]]:
    """The objects written under `out`, loaded as `axis apply` loads them: `kind/name` → document."""
    return {f"{item.obj.kind}/{item.obj.metadata.name}": item.obj.model_dump(mode="json", by_alias=True,
                                                                              exclude_unset=True)
            for item in load_specs([out])}


def hosts_json(axis: Any) -> dict[str, dict[str, Any]]:
    """`axis get hosts -o json` by name."""
    result = axis("get", "hosts", "-o", "json")
    assert result.code == 0, result.err
    return {item["metadata"]["name"]: item for item in json.loads(result.out)["items"]}


def error_lines(err: str) -> list[str]:
    """The `error: ...` lines an import printed."""
    return [line for line in err.splitlines() if line.startswith("error: ")]
