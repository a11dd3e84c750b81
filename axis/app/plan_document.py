"""The plan document: what `axis diff -o json|yaml` prints, versioned for CI tools to parse.

Built from a dry run's converge outcomes, purely (no host, no database). These pydantic models
are the format's definition: `docs/plan-format.schema.json` is their JSON Schema (a test keeps
the two equal) and `docs/plan-format.md` says what each field means. Adding a field keeps
`FORMAT_VERSION`; removing or renaming one, or changing what a value means, bumps it. So the
schema allows fields it does not name: a reader of version 1 ignores what it does not know.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from axis.app.timefmt import iso
from axis.drivers.features import Step
from axis.reconcile.apply_pass import Applied
from axis.reconcile.converge import FeatureOutcome, HostOutcome

FORMAT_VERSION: Literal[1] = 1

#: A step's op as the table shows it (`+ ~ -`) → the document's word for it.
ACTIONS: dict[str, Literal["add", "change", "remove"]] = {"+": "add", "~": "change", "-": "remove"}

HostStatus = Literal["pending", "in-sync", "unreachable", "failed"]


class _Model(BaseModel):
    """camelCase on the wire (like every other axis document), snake_case in Python."""

    # Every field is always written, defaults too: the schema marks them all required.
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True,
                              json_schema_serialization_defaults_required=True)


class PlannedStep(_Model):
    feature: str = Field(description="the feature the step belongs to, as spelled in the spec (e.g. panicRecovery)")
    action: Literal["add", "change", "remove"] = Field(description="`+` add, `~` change, `-` remove")
    summary: str = Field(description="one line for people, e.g. `create /etc/sysctl.d/60-axis-recovery.conf`")
    target: str = Field(description="the file the step writes or removes, or the command it runs")
    live: bool = Field(description="changes the running system (a service, a sysctl), not only files")
    diff: str | None = Field(description="a unified diff of the file's content, when the step writes a file")


class RefusedStep(_Model):
    summary: str
    target: str
    host_message: str = Field(description="what the host said when it refused this live step; it is not retried")


class FeatureNote(_Model):
    feature: str
    state: Literal["in-sync", "pending", "refused", "failed", "not-applicable"]
    message: str = Field(description="why: the steps to run, the host's refusal, a probe error, or a plan note")
    refused: list[RefusedStep] = Field(default_factory=list, description="live steps the host refused earlier")


class HostPlan(_Model):
    host: str
    status: HostStatus = Field(description="pending: steps to run; in-sync: nothing to do; unreachable: no "
                                           "connection or no answer in time; failed: reached, but not planned "
                                           "in full (authentication, sudo, a probe that could not read the host)")
    reason: str | None = Field(description="why the host is unreachable or failed; null otherwise")
    steps: list[PlannedStep] = Field(description="what `axis apply` would run, in order")
    features: list[FeatureNote] = Field(description="every managed feature's state, with its reason")


class ObjectChange(_Model):
    kind: str
    name: str
    action: Literal["created", "configured", "unchanged", "pruned", "deleted"] = Field(
        description="what `axis apply` would do to the stored object, judged against this state DB")


class PlanSummary(_Model):
    hosts: int
    to_change: int = Field(description="hosts with status pending")
    in_sync: int
    unreachable: int
    failed: int
    steps: int = Field(description="steps over all hosts")


class PlanDocument(_Model):
    """What `axis diff -o json|yaml` prints: per host the steps `axis apply` would run."""

    format_version: Literal[1] = Field(description="bumped on any change that is not an added field")
    kind: Literal["Plan"]
    generated_at: str = Field(description="UTC, ISO 8601")
    summary: PlanSummary
    hosts: list[HostPlan]
    objects: list[ObjectChange] = Field(description="the spec objects and what apply would do to each")
    warnings: list[str] = Field(description="the spec's warnings, as `axis apply` prints them")


def _step(feature: str, step: Step) -> PlannedStep:
    return PlannedStep(feature=feature, action=ACTIONS[step.op], summary=step.summary, target=step.target,
                       live=step.live, diff=step.detail or None)


def _note(f: FeatureOutcome) -> FeatureNote:
    if f.state not in ("in-sync", "pending", "refused", "failed", "not-applicable"):
        raise ValueError(f"{f.feature}: a plan is built from a dry run, not from a feature {f.state}")
    refused = [RefusedStep(summary=s.summary, target=s.target, host_message=why) for s, why in f.plan.skipped]
    return FeatureNote(feature=f.feature, state=f.state, message=f.message, refused=refused)


def host_status(o: HostOutcome) -> HostStatus:
    """A dry run's outcome status as the plan names it; "unreachable" as the Reachable condition
    judges it (refused or unresolvable address, connection lost, timed out)."""
    if o.status == "failed":
        return "unreachable" if o.observation is not None and o.observation.status == "unreachable" else "failed"
    if o.status == "unchanged":
        return "in-sync"
    if o.status == "pending":
        return "pending"
    raise ValueError(f"{o.host}: a plan is built from a dry run, not from a host {o.status}")


def _host(o: HostOutcome) -> HostPlan:
    return HostPlan(host=o.host, status=host_status(o), reason=o.reason or None,
                    steps=[_step(f.feature, s) for f in o.features for s in f.plan.steps],
                    features=[_note(f) for f in o.features])


def plan_document(applied: Applied, now: float) -> PlanDocument:
    """The plan of a dry run (`axis.app.apply.plan_specs`), generated at `now` (epoch seconds)."""
    hosts = [_host(o) for o in applied.outcomes]

    def count(status: HostStatus) -> int:
        return sum(1 for h in hosts if h.status == status)

    summary = PlanSummary(hosts=len(hosts), to_change=count("pending"), in_sync=count("in-sync"),
                          unreachable=count("unreachable"), failed=count("failed"),
                          steps=sum(len(h.steps) for h in hosts))
    objects = [ObjectChange(kind=c.kind, name=c.name, action=c.action) for c in applied.stored.changes]
    return PlanDocument(format_version=FORMAT_VERSION, kind="Plan", generated_at=iso(now), summary=summary,
                        hosts=hosts, objects=objects, warnings=list(applied.stored.warnings))


def plan_data(plan: PlanDocument) -> dict:
    """The document as JSON data, with its wire (camelCase) names."""
    return plan.model_dump(mode="json", by_alias=True)


def plan_schema() -> dict:
    """The JSON Schema of the document (`docs/plan-format.schema.json` holds it)."""
    schema = PlanDocument.model_json_schema(by_alias=True, mode="serialization")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
