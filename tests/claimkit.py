"""Helpers for the placement tests: hosts, claims and facts stored in a real state DB."""

from __future__ import annotations

from typing import Any

from axis.specs import Claim, Host, Loaded
from axis.state import Database
from axis.state.facts import Observation, store_observations
from axis.state.objects import apply_objects

GiB = 1 << 30
T0 = 1_700_000_000.0  # a fixed "now": tests move time by passing later values


def host(name: str, *, labels: dict[str, str] | None = None, fanout: bool = True) -> Host:
    return Host.model_validate({"apiVersion": "axis/v1", "kind": "Host",
                                "metadata": {"name": name, "labels": labels or {}},
                                "spec": {"address": f"{name}.lan", "fanout": fanout}})


def claim(name: str, task: str = "batch job", **spec: Any) -> Claim:
    return Claim.model_validate({"apiVersion": "axis/v1", "kind": "Claim", "metadata": {"name": name},
                                 "spec": {"task": task, **spec}})


def nightly_claims(memory: str) -> str:
    """A spec file of two claims asking for `memory` each: job-a with a one-hour ttl, job-b with none."""
    return "---\n".join(f"apiVersion: axis/v1\nkind: Claim\nmetadata: {{name: {name}}}\n"
                         f"spec: {{task: nightly batch, requires: {{memory: {memory}}}{ttl}}}\n"
                         for name, ttl in (("job-a", ", ttl: 1h"), ("job-b", "")))


def facts(*, total_gib: float = 30, available_gib: float | None = None, pressure: str = "none",
          tools: tuple[str, ...] = ("git", "python3"), gpu: str | None = None, cores: int = 8,
          os: str = "linux", hostname: str | None = None) -> dict[str, Any]:
    """The parts of a stored Facts document that placement reads."""
    total = int(total_gib * GiB)
    available = int((available_gib if available_gib is not None else total_gib * 0.8) * GiB)
    probed = ("go", "python3", "git", "docker", "ollama", "node", "nvidia-smi")
    return {
        "status": "complete", "missing": {}, "hostname": hostname,
        "os": {"family": os}, "cpu": {"cores": cores},
        "memory": {"total_bytes": total, "available_bytes": available, "pressure": pressure},
        "gpus": [{"name": gpu}] if gpu else [],
        "tools": {t: (f"/usr/bin/{t}" if t in tools else None) for t in sorted(set(probed) | set(tools))},
    }


def store(db: Database, objects: list[Host | Claim], observed: dict[str, dict[str, Any] | None] | None = None,
          *, now: float = T0) -> None:
    """Apply the objects (as `axis apply` would) and store one observation per host in `observed`
    (None: the host was unreachable)."""
    loaded = [Loaded(obj, "specs/test.yaml", i + 1, "specs") for i, obj in enumerate(objects)]
    with db.write() as session:
        apply_objects(session, loaded, now=now)
        store_observations(session, [
            Observation(name, "complete" if data else "unreachable", "" if data else f"{name}: unreachable: refused",
                        data, now) for name, data in (observed or {}).items()])
