"""What `axis apply` and `axis diff` share: which hosts a set of spec files concerns, and one
converge pass over them with a progress line."""

from __future__ import annotations

import asyncio

from sqlmodel import Session

from axis.cli.context import AppContext
from axis.cli.progress import fleet_progress
from axis.reconciler.converge import HostOutcome
from axis.reconciler.fleet_pass import HostWork, converge_fleet, plan_work
from axis.reconciler.observe import claim_tools
from axis.specs import Host, HostProfile, Loaded
from axis.state.objects import desired_claims, desired_hosts


def work_for(session: Session, loaded: list[Loaded]) -> tuple[list[HostWork], list[str]]:
    """The hosts these files concern (their Hosts, and hosts their profiles match), planned from
    the state as it stands in `session`, and the tools claims ask for (probed with the facts)."""
    hosts, profiles = desired_hosts(session)
    named = {item.obj.metadata.name for item in loaded if isinstance(item.obj, Host)}
    applied_profiles = [item.obj for item in loaded if isinstance(item.obj, HostProfile)]
    chosen = [h for h in hosts if h.metadata.name in named
              or any(p.spec.selector.matches(h.metadata.labels) for p in applied_profiles)]
    return plan_work(session, chosen, profiles), claim_tools(desired_claims(session))


def run_pass(app: AppContext, work: list[HostWork], tools: list[str], *, dry_run: bool,
             jobs: int) -> list[HostOutcome]:
    label = "planning" if dry_run else "converging"
    with fleet_progress(len(work), label) as tick:
        return asyncio.run(converge_fleet(app.db(), app.ssh, work, dry_run=dry_run, extra_tools=tools,
                                          jobs=jobs, on_done=lambda _o: tick()))
