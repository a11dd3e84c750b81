"""A fleet stored as the controller's passes store one, for the dashboard's tests and its bench
(bench/dashboard.py): Host objects applied as `axis apply` applies them, a facts history per host
parsed from the captured facts fixtures (renamed per host, the numbers moving from pass to pass),
the conditions and feature states a pass records, claims bound by the placement pass, a git
source with its attempts, and the events all of that writes."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from axis.drivers.facts import Facts
from axis.placement.ledger import place_claims
from axis.specs import Claim, Host, Kind, Loaded
from axis.state import Database
from axis.state.conditions import put_conditions
from axis.state.events import record_event
from axis.state.facts import Observation, store_observations
from axis.state.feature_status import FeatureRow, store_feature_status
from axis.state.objects import apply_objects
from axis.state.sources import begin_attempt, end_attempt, mark_applied, record_host_revision, upsert_source
from tests.factskit import load, parse

#: Captured facts outputs the hosts take their facts from, in turn.
FIXTURES = ("debian12-testhost", "ubuntu-24.04-h200-vm", "debian12", "minimal-missing-tools")
#: A description and a refusal that try to become markup: the pages must show them as text.
HOSTILE_DESCRIPTION = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
REFUSAL = "E: Could not open lock file /var/lib/dpkg/lock-frontend - open (13: Permission denied)"
REVISION = "main@sha1:" + "0123456789abcdef" * 2 + "01234567"
#: Seconds between two stored passes.
PASS_EVERY = 60.0


def captured_facts(fixture: str) -> dict[str, Any]:
    """A fixture's captured output parsed as a pass parses it, as stored (JSON)."""
    return parse(load(fixture)).model_dump(mode="json")


def host_facts(template: dict[str, Any], name: str, step: int, rng: random.Random) -> dict[str, Any]:
    """`template` as host `name` reported it at pass `step`: its hostname, and load, available
    memory and used disk moving a little (what the plots draw)."""
    data = {**template, "hostname": name}
    if template.get("load"):
        data["load"] = {**template["load"], "load1": round(rng.uniform(0.05, 4.0), 2)}
    memory = template.get("memory")
    if memory and memory.get("total_bytes"):
        data["memory"] = {**memory, "available_bytes": int(memory["total_bytes"] * rng.uniform(0.3, 0.9))}
    disk = template.get("root_disk")
    if disk and disk.get("size_bytes"):
        used = int(disk["size_bytes"] * min(0.95, 0.2 + 0.01 * step + rng.uniform(0, 0.05)))
        data["root_disk"] = {**disk, "used_bytes": used, "available_bytes": disk["size_bytes"] - used}
    return data


def fill_fleet(db: Database, names: Sequence[str], *, now: float, history: int = 20, down: Sequence[str] = (),
               refusing: Sequence[str] = (), hostile: Sequence[str] = (), seed: int = 7) -> None:
    """Store hosts `names` with `history` passes each, the newest at `now`: hosts in `down`
    unreachable on the newest pass, those in `refusing` refusing earlyoom's install with the
    host's words, those in `hostile` with a description holding markup; two claims placed and a
    git source that applied one revision."""
    rng = random.Random(seed)
    templates = [captured_facts(f) for f in FIXTURES]
    hosts = [Host.model_validate({
        "apiVersion": "axis/v1", "kind": "Host",
        "metadata": {"name": name, "labels": {"role": "worker", "rack": f"r{i % 8}"}},
        "spec": {"address": f"{name}.lan", "description": HOSTILE_DESCRIPTION if name in hostile else f"worker {i}",
                 "features": {"panicRecovery": {"panicSeconds": 10}, "earlyoom": {}}}})
        for i, name in enumerate(names)]
    claims = [Claim.model_validate({"apiVersion": "axis/v1", "kind": "Claim", "metadata": {"name": name},
                                    "spec": {"task": task, "requires": {"memory": memory}, "ttl": "2h"}})
              for name, task, memory in (("llm-eval", "run ollama inference on a 7b model", "2Gi"),
                                         ("nightly", "nightly batch build", "1Gi"))]
    start = now - (history - 1) * PASS_EVERY
    with db.write() as session:
        objects: list[Host | Claim] = [*hosts, *claims]
        apply_objects(session, [Loaded(o, "specs/fleet.yaml", i + 1, "specs") for i, o in enumerate(objects)], now=start)
        for step in range(history):
            at = start + step * PASS_EVERY
            store_observations(session, [_observation(name, templates[i % len(templates)], step, at, rng,
                                                      unreachable=step == history - 1 and name in down)
                                         for i, name in enumerate(names)], keep=history)
        for name in names:
            _record_pass(session, name, now, down=name in down, refusing=name in refusing)
        upsert_source(session, name="fleet", url="https://git.example/fleet.git", ref="main", path="specs",
                      interval=60, verify=False, now=start)
        attempt = begin_attempt(session, "fleet", REVISION, start)
        end_attempt(session, attempt, "Converged", f"{len(names)} hosts converged", changed=len(names), now=start + 5)
        mark_applied(session, "fleet", REVISION, start + 5)
        for name in names:
            record_host_revision(session, name, "fleet", REVISION, start + 5)
    place_claims(db, now=now)


def _observation(name: str, template: dict[str, Any], step: int, at: float, rng: random.Random, *,
                 unreachable: bool) -> Observation:
    if unreachable:
        return Observation(name, "unreachable", f"{name}: unreachable: connection refused", None, at)
    data = host_facts(template, name, step, rng)
    Facts.model_validate(data)  # what the controller stores is a valid Facts document
    return Observation(name, data["status"], "", data, at)


def _record_pass(session: Any, name: str, now: float, *, down: bool, refusing: bool) -> None:
    """The conditions, feature states and events a host pass records (`axis.reconcile.record`)."""
    if down:
        put_conditions(session, Kind.HOST, name, [
            ("Reachable", False, "Unreachable", f"{name}: unreachable: connection refused"),
            ("Converged", None, "HostNotObserved", f"{name}: unreachable: connection refused"),
            ("Ready", False, "NotReady", f"{name}: unreachable: connection refused")], generation=1, now=now, probed=now)
        record_event(session, Kind.HOST, name, "Unreachable", f"{name}: unreachable: connection refused",
                     type="Warning", now=now)
        return
    rows = [FeatureRow("panicRecovery", "in-sync", "InSync", "", "", {}),
            FeatureRow("earlyoom", "refused" if refusing else "in-sync", "Refused" if refusing else "InSync",
                       REFUSAL if refusing else "", "", {"install": REFUSAL} if refusing else {})]
    store_feature_status(session, name, rows, generation=1, now=now)
    converged = ("InSyncWithRefusals", "host refused live steps of: earlyoom") if refusing else ("InSync", "")
    put_conditions(session, Kind.HOST, name, [
        ("Reachable", True, "FactsComplete", ""), ("Converged", True, *converged), ("Ready", True, "Ready", "")],
        generation=1, now=now, probed=now)
    record_event(session, Kind.HOST, name, "Converged", "2 step(s) run: panicRecovery, earlyoom", now=now)
