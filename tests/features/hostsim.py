"""A tiny host model for the feature drivers' golden tests.

A scenario starts from real captured script output (facts + the drivers' probe sections, see
tests/fixtures/features/README.md). `files_seen` turns every `cat PATH` probe of a driver into
an entry of a {path: content} dict; `apply_files` applies WriteFile/RemoveFile steps to that
dict exactly as a host would; `with_files` turns the dict back into the probes' sections. So
"plan again after applying" really re-observes the files the steps wrote. What Commands change
on a host (a package installed, swap activated, a kernel value loaded) is modelled per test.
"""

from __future__ import annotations

import dataclasses
import shlex
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from axis.drivers.facts import Facts
from axis.drivers.facts.sections import Section
from axis.drivers.features.base import Command, FeatureDriver, RemoveFile, Step, WriteFile, file_text
from tests.factskit import boundary_of, parse, reframe, split, with_sections

FIXTURES = Path(__file__).parent.parent / "fixtures"
AT = datetime(2024, 5, 1, 12, tzinfo=timezone.utc)


def capture(name: str, *, facts_fixture: str | None = None) -> tuple[Facts, dict[str, Section]]:
    """Facts and sections of a captured run: tests/fixtures/features/NAME; a file holding only
    feature sections is appended to a facts fixture (tests/fixtures/facts/FACTS_FIXTURE)."""
    text = (FIXTURES / "features" / name).read_text()
    if facts_fixture is not None:
        base = (FIXTURES / "facts" / facts_fixture).read_text()
        text = with_sections(base, [reframe(text, boundary_of(base))])
    return parse(text, collected_at=AT), split(text).sections


def section(name: str, body: str | list[str], rc: int = 0, stderr: list[str] | None = None) -> Section:
    lines = body if isinstance(body, list) else body.splitlines()
    return Section(name, list(lines), list(stderr or []), rc)


def cat_paths(driver: FeatureDriver, settings: Any) -> dict[str, str]:
    """Section name → path, for each of the driver's probes that is a plain `cat PATH`."""
    out = {}
    for name, command in driver.probes(settings).items():
        words = shlex.split(command)
        if len(words) == 2 and words[0] == "cat":
            out[name] = words[1]
    return out


def files_seen(driver: FeatureDriver, settings: Any, sections: dict[str, Section]) -> dict[str, str]:
    """The files the driver's cat probes saw: {path: content}; absent files are left out."""
    files = {}
    for name, path in cat_paths(driver, settings).items():
        text = file_text(sections.get(name))
        if text is not None:
            files[path] = text
    return files


def apply_files(files: dict[str, str], steps: list[Step]) -> dict[str, str]:
    """What the host's files are after the steps' WriteFile/RemoveFile actions."""
    out = dict(files)
    for step in steps:
        if isinstance(step.action, WriteFile):
            out[step.action.path] = step.action.content
        elif isinstance(step.action, RemoveFile):
            out.pop(step.action.path, None)
    return out


def with_files(driver: FeatureDriver, settings: Any, sections: dict[str, Section],
               files: dict[str, str]) -> dict[str, Section]:
    """`sections` with every cat probe answered from `files`, as `cat` would answer."""
    out = dict(sections)
    for name, path in cat_paths(driver, settings).items():
        if path in files:
            out[name] = section(name, files[path].splitlines())
        else:
            out[name] = section(name, [], 1, [f"cat: {path}: No such file or directory"])
    return out


def commands(steps: list[Step]) -> list[str]:
    return [s.action.command for s in steps if isinstance(s.action, Command)]


Effects = Callable[[Step, Facts, dict[str, Section]], tuple[Facts, dict[str, Section]]]


def no_effects(step: Step, facts: Facts, sections: dict[str, Section]) -> tuple[Facts, dict[str, Section]]:
    return facts, sections


def converge(driver: FeatureDriver, settings: Any, facts: Facts, sections: dict[str, Section],
             effects: Effects = no_effects) -> tuple[list[Step], Facts, dict[str, Section]]:
    """Plan, "apply" (files for real, commands through `effects`), and return the steps with the
    host as it is afterwards (facts, sections): ready for the second plan."""
    steps = driver.plan(settings, driver.observe(sections), facts)
    files = apply_files(files_seen(driver, settings, sections), steps)
    after = with_files(driver, settings, sections, files)
    for step in steps:
        if isinstance(step.action, Command):
            facts, after = effects(step, facts, after)
    return steps, facts, after


def replan(driver: FeatureDriver, settings: Any, facts: Facts, sections: dict[str, Section]) -> list[Step]:
    return driver.plan(settings, driver.observe(sections), facts)


def facts_with(facts: Facts, **update: Any) -> Facts:
    return facts.model_copy(update=update)


def summaries(steps: list[Step]) -> list[tuple[str, str]]:
    return [(s.op, s.summary) for s in steps]


def targets(steps: list[Step]) -> list[str]:
    return [s.target for s in steps]


def replace(step: Step, **changes: Any) -> Step:
    return dataclasses.replace(step, **changes)
