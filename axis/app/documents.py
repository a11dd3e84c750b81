"""The shapes of the documents every front end shows: `axis get|apply|diff|status -o json`,
the HTTP API's answers and the MCP tools'.

TypedDicts, not models: the view code builds plain dicts, so JSON and YAML stay exactly what they
were, while mypy checks every key the view code writes and the front ends read, and
`pydantic.TypeAdapter(T).json_schema()` turns each into the API's OpenAPI response schema.
(typing_extensions' TypedDict: pydantic reads the standard one only from Python 3.12.)
Keys are camelCase as the documents spell them; a key that only some objects carry is NotRequired.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired

from typing_extensions import TypedDict

from axis.drivers.plan_ops import Op
from axis.reconcile.feature_state import FeatureState


class ObjectMetadata(TypedDict):
    name: str
    labels: NotRequired[dict[str, str]]  # only when the object has labels
    generation: int
    creationTimestamp: str
    source: str  # file:line it was applied from


class ConditionView(TypedDict):
    type: str
    status: str  # "True" | "False" | "Unknown"
    reason: str
    message: str
    lastTransitionTime: str
    lastProbeTime: str | None
    observedGeneration: int


class FeatureStateView(TypedDict):
    """One feature's state on a host, as the last pass recorded it."""

    feature: str
    state: str
    reason: str
    message: str
    observedGeneration: int
    updated: str


class HostObserved(TypedDict):
    """A host's latest observation, as `status.observed` of a host carries it."""

    status: str  # complete | partial | unreachable | unknown (never observed)
    reason: str | None
    observedAt: str | None
    age: str
    factsAt: str | None  # when the numbers were read: the newest pass that carried facts
    summary: dict[str, str]  # table-sized renderings (os, cores, load, ram, pressure, gpu, disk, sudo, memoryEnforcement)


class Observation(HostObserved):
    """A host's latest observation with its name and full facts (`axis facts`, `GET /facts/{name}`,
    the rows of `axis status`)."""

    name: str
    facts: dict[str, Any] | None


class JobView(TypedDict):
    """A claim's detached job: `state` Running, Succeeded, Failed, OOMKilled, Stopped or Lost."""

    id: str
    host: str
    command: str
    state: str
    exitCode: int | None
    started: str
    ended: str | None
    message: str | None


class ObjectStatus(TypedDict, total=False):
    """What axis computed about a desired object; which keys it has depends on the kind."""

    invalid: str  # the stored spec no longer validates: why, and what to do
    profiles: list[str]  # Host: the profiles that match it
    effectiveFeatures: dict[str, Any]  # Host: feature → {settings, from}
    matchedHosts: list[str]  # HostProfile
    observed: HostObserved  # Host
    features: list[FeatureStateView]  # Host
    revision: str  # Host: the git source revision (`main@sha1:…`) that last converged it
    revisionSource: str  # Host: the source that revision came from
    revisionConvergedAt: str  # Host: when it converged the host
    controller: HostController  # Host: the controller that may reconcile it now (none while unheld)
    phase: str  # Claim: Bound | Running | Pending | Expired | Released | Succeeded | Failed | OOMKilled | Stopped | Lost
    host: str | None  # Claim
    memory: str  # Claim: leased, else inferred ("-" when unknown)
    expires: str | None  # Claim
    expiresIn: str | None  # Claim
    reason: str | None  # Claim
    job: JobView  # Claim: its newest detached job (`axis exec --detach`), running or ended
    observedGeneration: int  # where a pass set conditions
    conditions: list[ConditionView]


class ObjectView(TypedDict):
    """A desired object with its computed status (`axis get KIND NAME -o json`)."""

    apiVersion: str
    kind: str
    metadata: ObjectMetadata
    spec: dict[str, Any]
    status: NotRequired[ObjectStatus]
    facts: NotRequired[dict[str, Any] | None]  # one host from the API: its newest facts


class ObjectList(TypedDict):
    apiVersion: str
    kind: Literal["List"]
    items: list[ObjectView]


class LeaseView(TypedDict):
    claim: str
    host: str
    memory: str
    gpu: bool
    acquired: str
    renewed: str
    expires: str
    expiresIn: str  # `in 45m` / `expired 3m ago`


class LeaseList(TypedDict):
    apiVersion: str
    kind: Literal["LeaseList"]
    items: list[LeaseView]


class EventView(TypedDict):
    id: NotRequired[int]  # from the API, for `?after=`
    time: str
    type: str  # Normal | Warning
    object: str  # Kind/name
    reason: str
    message: str


class EventList(TypedDict):
    apiVersion: str
    kind: Literal["EventList"]
    items: list[EventView]


class ClusterTotals(TypedDict):
    hosts: int
    reachable: int
    cores: int
    memoryTotalBytes: int
    memoryAvailableBytes: int
    gpus: int


class ClusterStatus(TypedDict):
    """`axis status --cached -o json`, `GET /status`."""

    hosts: list[Observation]
    totals: ClusterTotals


class RunningController(TypedDict):
    pid: str
    since: str | None  # None: PostgreSQL does not say (another role's session, not yet registered)


class ControllerStatus(TypedDict):
    running: RunningController | None
    conditions: list[ConditionView]
    lastRecorded: NotRequired[list[ConditionView]]  # what a controller that no longer runs stored
    events: list[EventView]


class ControllerMetadata(TypedDict):
    name: str


class HostController(TypedDict):
    """Which of the controllers sharing the state DB holds a host, with its fencing token."""

    name: str
    token: int
    expires: str


class ControllerHealth(TypedDict):
    """`axis get controller -o json`, `GET /controller`."""

    apiVersion: str
    kind: str
    metadata: ControllerMetadata
    status: ControllerStatus


class StepView(TypedDict):
    op: Op
    summary: str
    target: str
    live: bool
    diff: NotRequired[str]


class RefusedStep(StepView):
    hostMessage: str


class StepResultView(TypedDict):
    summary: str
    status: Literal["done", "refused", "failed"]
    message: str


class FeatureOutcomeView(TypedDict):
    feature: str
    state: FeatureState
    message: str
    steps: list[StepView]
    error: NotRequired[str]
    refused: NotRequired[list[RefusedStep]]
    results: NotRequired[list[StepResultView]]


class HostOutcomeView(TypedDict):
    name: str
    status: Literal["changed", "unchanged", "pending", "failed"]
    reason: str | None
    seconds: float
    features: list[FeatureOutcomeView]


class Outcomes(TypedDict):
    """`axis diff -o json`: each host's plan."""

    changesPending: bool
    failed: int
    hosts: list[HostOutcomeView]


class ChangeView(TypedDict):
    kind: str
    name: str
    action: Literal["created", "configured", "unchanged", "pruned", "deleted"]
    generation: int
    source: str


class ClaimPlaced(TypedDict):
    claim: str
    phase: str
    host: str | None
    reason: str | None


class AppliedDocument(Outcomes):
    """`axis apply -o json`, `POST /apply`: what was stored, each host's outcome, claims bound."""

    dryRun: bool
    storeOnly: bool  # no host contacted, no claim bound
    changes: list[ChangeView]
    warnings: list[str]
    controller: str | None  # the running controller the hosts were handed to
    claims: list[ClaimPlaced]


class Health(TypedDict):
    """`GET /health`: liveness, the version and the state DB it serves."""

    status: Literal["ok"]
    version: str
    state: str
