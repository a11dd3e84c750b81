"""Converging one host: observe (one round trip), plan, apply, observe again to verify.

Level-triggered: every pass starts from what the host reports now, never from a YAML diff. A
host's outcome is always a value (changed, unchanged, pending for a dry run, failed with the
reason), so one dead host fails alone while the fan-out goes on with the others.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from axis.drivers.connector import Connector, with_connection
from axis.drivers.facts import Facts
from axis.drivers.facts.script import ROOT_GROUP
from axis.drivers.facts.sections import Section
from axis.drivers.features import Plan
from axis.drivers.features.execute import StepResult, run_steps
from axis.drivers.features.probes import ABSENT_EXIT
from axis.drivers.transport import ErrorKind, RunResult, Transport, TransportError, sudo_refusal
from axis.reconcile.observe import run_facts_script, to_observation
from axis.reconcile.plan import feature_probes, plan_host
from axis.specs import Host
from axis.specs.effective import EffectiveFeature
from axis.state.facts import Observation
from axis.reconcile.feature_state import FeatureState

#: A controller pass over one host must end within this many seconds, and so does one converge
#: given no timeout (an apply's: host_pass.APPLY_TIMEOUT).
PASS_TIMEOUT = 600.0

#: The root shell the root probes run in, as `transport.as_root` wraps it: itself when no sudo applies.
_SHELL = "sh -s"


@dataclass
class FeatureOutcome:
    feature: str
    state: FeatureState
    plan: Plan
    results: list[StepResult] = field(default_factory=list)
    message: str = ""

    @property
    def refused(self) -> dict[str, str]:
        """Step key → the host's message, for steps refused now or remembered as refused."""
        out = {r.step.key: r.message for r in self.results if r.status == "refused"}
        out.update({step.key: why for step, why in self.plan.skipped})
        return out


@dataclass
class HostOutcome:
    host: str
    status: Literal["changed", "unchanged", "pending", "failed"]
    reason: str = ""
    features: list[FeatureOutcome] = field(default_factory=list)
    observation: Observation | None = None
    seconds: float = 0.0

    @property
    def steps_run(self) -> int:
        return sum(1 for f in self.features for r in f.results if r.status == "done")


async def observe_features(transport: Transport, features: Mapping[str, EffectiveFeature],
                           extra_tools: list[str], timeout: float) -> tuple[Facts, dict[str, Section]]:
    """Facts and every feature's probes, in one script and one round trip. A probe marked
    `as_root` runs with the steps' privilege: a root-only file is then read by whoever will
    write it. Where that takes `sudo -n` (`transport.as_root`), all of them run in one root shell
    (one sudo per host and pass, not one per probe). When sudo itself refuses (it wants a
    password), the host fails with that reason, as a refused step would make it: no feature can
    be read. A root probe that did not run because that shell failed otherwise is unreadable
    with the shell's own words, never absent."""
    wanted = feature_probes(features)
    root_shell = transport.as_root(_SHELL)
    rooted = {n: p.command for n, p in wanted.items() if p.as_root} if root_shell != _SHELL else {}
    plain = {n: p.command for n, p in wanted.items() if n not in rooted}
    facts, out = await run_facts_script(transport, extra_tools, plain, timeout, root_probes=rooted,
                                        root_shell=root_shell)
    sections = out.sections
    if not rooted:
        return facts, sections
    group = sections.get(ROOT_GROUP)
    if group is not None and group.rc not in (0, None):
        refused = sudo_refusal(transport.name, RunResult(group.rc, "", "\n".join(group.stderr)))
        if refused is not None:
            raise refused
    # what the root shell said stands for each probe it never printed; its exit status only where
    # it cannot read as a probe's own "absent"
    rc = group.rc if group is not None and group.rc not in (0, ABSENT_EXIT) else None
    for name in rooted:
        if name not in sections:
            sections[name] = Section(name, stderr=list(group.stderr) if group is not None else [], rc=rc)
    return facts, sections


async def converge_host(host: Host, features: Mapping[str, EffectiveFeature], connector: Connector, *,
                        dry_run: bool, refused: Mapping[str, Mapping[str, str]] | None = None,
                        extra_tools: list[str] | None = None, timeout: float = PASS_TIMEOUT,
                        stop: asyncio.Event | None = None) -> HostOutcome:
    """One pass over one host; never raises (a failure is the outcome, with its reason).

    With `stop` set mid-pass (shutdown), the step in flight finishes and no other starts."""
    name = host.metadata.name
    started = time.monotonic()
    tools = extra_tools or []
    deadline = asyncio.get_running_loop().time() + timeout
    try:
        outcome = await with_connection(
            host, connector, deadline,
            lambda transport, _left: _pass(name, transport, features, dry_run, refused or {}, tools, stop))
    except TimeoutError:
        err = TransportError(ErrorKind.TIMEOUT, name, f"pass not finished within {timeout:g}s")
        outcome = HostOutcome(name, "failed", str(err), observation=to_observation(name, None, err))
    except TransportError as exc:
        outcome = HostOutcome(name, "failed", str(exc), observation=to_observation(name, None, exc))
    outcome.seconds = time.monotonic() - started
    return outcome


async def _pass(name: str, transport: Transport, features: Mapping[str, EffectiveFeature], dry_run: bool,
                refused: Mapping[str, Mapping[str, str]], tools: list[str],
                stop: asyncio.Event | None) -> HostOutcome:
    facts, sections = await observe_features(transport, features, tools, timeout=60.0)
    if facts.os is None:
        return HostOutcome(name, "failed", f"{name}: cannot tell the host's OS: {facts.missing.get('os', 'no output')}",
                           observation=to_observation(name, facts, None))
    plans = plan_host(features, sections, facts, refused)
    if dry_run or not any(p.changes for p in plans):
        unapplied = [_unapplied(p) for p in plans]
        status: Literal["changed", "unchanged", "pending", "failed"] = (
            "failed" if any(o.state == "failed" for o in unapplied)
            else "pending" if any(p.changes for p in plans) else "unchanged")
        return HostOutcome(name, status, _failed_reason(unapplied), unapplied,
                           observation=to_observation(name, facts, None))
    results = {p.feature: await run_steps(transport, p.steps, stop=stop) for p in plans if p.changes}
    if stop is not None and stop.is_set():
        done = sum(1 for rs in results.values() for r in rs if r.status == "done")
        return HostOutcome(name, "failed", f"{name}: interrupted by shutdown (or a lapsed hold on the host) after {done} step(s); "
                                           "the next pass continues", observation=to_observation(name, facts, None))
    facts, sections = await observe_features(transport, features, tools, timeout=60.0)
    remembered = {p.feature: {**refused.get(p.feature, {}),
                              **{r.step.key: r.message for r in results.get(p.feature, []) if r.status == "refused"}}
                  for p in plans}
    verified = {p.feature: p for p in plan_host(features, sections, facts, remembered)}
    outcomes = [_applied(p, results.get(p.feature, []), verified[p.feature]) for p in plans]
    failed = [o for o in outcomes if o.state == "failed"]
    ran = any(r.status == "done" for rs in results.values() for r in rs)
    # only refused live steps ran: nothing on the host changed
    status = "failed" if failed else "changed" if ran else "unchanged"
    return HostOutcome(name, status, _failed_reason(outcomes), outcomes, to_observation(name, facts, None))


def _failed_reason(outcomes: list[FeatureOutcome]) -> str:
    return "; ".join(f"{o.feature}: {o.message}" for o in outcomes if o.state == "failed")


def _unapplied(plan: Plan) -> FeatureOutcome:
    """The outcome of a plan that was not run (dry run, nothing to do, or not runnable)."""
    if plan.error:  # the host could not be read: nothing planned, the state is unknown
        return FeatureOutcome(plan.feature, "failed", plan, message=plan.error)
    if not plan.applicable:
        return FeatureOutcome(plan.feature, "not-applicable", plan, message="; ".join(plan.notes))
    if plan.changes:
        return FeatureOutcome(plan.feature, "pending", plan, message=f"{len(plan.steps)} step(s) to run")
    if plan.skipped:
        return FeatureOutcome(plan.feature, "refused", plan, message=_refusal_message(plan.skipped))
    return FeatureOutcome(plan.feature, "in-sync", plan, message="; ".join(plan.notes))


def _applied(plan: Plan, results: list[StepResult], after: Plan) -> FeatureOutcome:
    if not plan.changes:
        return _unapplied(plan)
    failed = [r for r in results if r.status == "failed"]
    if failed:
        return FeatureOutcome(plan.feature, "failed", plan, results, f"{failed[0].step.summary}: {failed[0].message}")
    if after.error:
        return FeatureOutcome(plan.feature, "failed", plan, results, f"applied, but not verified: {after.error}")
    if after.changes:
        left = ", ".join(s.summary for s in after.steps)
        return FeatureOutcome(plan.feature, "failed", plan, results, f"still differs after apply: {left}")
    if after.skipped:  # refused now (remembered for the verification plan) or earlier
        return FeatureOutcome(plan.feature, "refused", after, results, _refusal_message(after.skipped))
    return FeatureOutcome(plan.feature, "applied", plan, results, f"{len(results)} step(s) applied")


def _refusal_message(refused: list) -> str:
    step, why = refused[0]
    more = f" (+{len(refused) - 1} more)" if len(refused) > 1 else ""
    return f"files in place; the host refused `{step.target}`: {why}{more}"
