"""The pure half of converging a host: from desired features and one observation to a plan.

`plan_host` never touches a host or the DB, so `axis diff`, `axis apply --dry-run`, the apply's
own first pass and its verification pass all compute exactly the same thing. A feature whose
probes could not read the host (`Unreadable`) gets a Plan with `error` and no steps: a failed
read is never planned from as if the file were absent.
"""

from __future__ import annotations

from collections.abc import Mapping

from axis.drivers.facts import Facts
from axis.drivers.facts.sections import Section
from axis.drivers.features import DRIVERS, Plan
from axis.drivers.features.base import Probe, Unreadable
from axis.specs.effective import EffectiveFeature


def feature_probes(features: Mapping[str, EffectiveFeature]) -> dict[str, Probe]:
    """Every probe the listed features need, to be sent with the facts script."""
    probes: dict[str, Probe] = {}
    for name, feature in features.items():
        probes.update(DRIVERS[name].probes(feature.settings))
    return probes


def plan_host(features: Mapping[str, EffectiveFeature], sections: Mapping[str, Section], facts: Facts,
              refused: Mapping[str, Mapping[str, str]] | None = None) -> list[Plan]:
    """One Plan per listed feature. `refused[feature]` holds step keys the host refused earlier
    for the same settings: those are listed as skipped (with the host's message), not re-run."""
    family = facts.os.family if facts.os else None
    plans = []
    for name, feature in features.items():
        driver = DRIVERS[name]
        if family not in driver.oses:
            where = family or "a host whose OS is unknown"
            plans.append(Plan(name, applicable=False, notes=[f"not applicable on {where}"]))
            continue
        plan = Plan(name)
        remembered = (refused or {}).get(name, {})
        try:
            state = driver.observe(sections)
        except Unreadable as exc:
            plan.error = str(exc)
            plans.append(plan)
            continue
        planned = driver.plan(feature.settings, state, facts)
        plan.notes.extend(planned.notes)
        for step in planned.steps:
            if step.key in remembered:
                plan.skipped.append((step, remembered[step.key]))
            else:
                plan.steps.append(step)
        plans.append(plan)
    return plans
