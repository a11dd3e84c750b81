"""A tiny host model for the feature drivers' golden tests.

A scenario starts from real captured script output (facts + the drivers' probe sections, see
tests/fixtures/features/README.md). `files_seen` turns every file probe of a driver (a `Probe`
with a `path`) into an entry of a {path: bytes} dict; `apply_files` applies WriteFile/RemoveFile
steps to that dict exactly as a host would; `with_files` turns the dict back into the probes'
sections, printed as the probe prints them (`od` hex dump, or exit 3 for "no such file"). So
"plan again after applying" really re-observes the files the steps wrote. What Commands change
on a host (a package installed, swap activated, a kernel value loaded) is modelled per test.
"""

from __future__ import annotations

import dataclasses
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from axis.drivers.facts import Facts
from axis.drivers.facts.sections import Section
from axis.drivers.features.base import Command, FeatureDriver, RemoveFile, Step, WriteFile
from axis.drivers.features.probes import ABSENT_EXIT, read_file
from tests.factskit import boundary_of, parse, reframe, split, with_sections

FIXTURES = Path(__file__).parent.parent / "fixtures"
AT = datetime(2024, 5, 1, 12, tzinfo=UTC)


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


def hexdump(data: bytes) -> list[str]:
    """What `od -A n -t x1 -v` prints for `data` (the real od, so the fixture format is the host's)."""
    out = subprocess.run(["od", "-A", "n", "-t", "x1", "-v"], input=data, capture_output=True, check=True).stdout
    return out.decode().splitlines()


def file_section(name: str, content: bytes | str | None, path: str = "FILE") -> Section:
    """A file probe's section: the file's hex dump, or "no such file" (exit ABSENT_EXIT)."""
    if content is None:
        return section(name, [], ABSENT_EXIT, [f"od: {path}: No such file or directory"])
    return section(name, hexdump(content.encode() if isinstance(content, str) else content))


def file_paths(driver: FeatureDriver, settings: Any) -> dict[str, str]:
    """Section name → path, for each of the driver's probes that prints a file (`file_probe`)."""
    return {name: probe.path for name, probe in driver.probes(settings).items() if probe.path is not None}


def files_seen(driver: FeatureDriver, settings: Any, sections: dict[str, Section]) -> dict[str, bytes]:
    """The files the driver's file probes saw: {path: bytes}; absent files are left out."""
    files = {}
    for name, path in file_paths(driver, settings).items():
        read = read_file(sections.get(name))
        assert read.kind != "unreadable", (name, read.reason)
        if read.kind == "present":
            files[path] = read.data
    return files


def apply_files(files: dict[str, bytes], steps: list[Step]) -> dict[str, bytes]:
    """What the host's files are after the steps' WriteFile/RemoveFile actions."""
    out = dict(files)
    for step in steps:
        if isinstance(step.action, WriteFile):
            out[step.action.path] = step.action.content
        elif isinstance(step.action, RemoveFile):
            out.pop(step.action.path, None)
    return out


def with_files(driver: FeatureDriver, settings: Any, sections: dict[str, Section],
               files: dict[str, bytes | str]) -> dict[str, Section]:
    """`sections` with every file probe answered from `files`, as the probe would answer."""
    out = dict(sections)
    for name, path in file_paths(driver, settings).items():
        out[name] = file_section(name, files.get(path), path)
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
    steps = driver.plan(settings, driver.observe(sections), facts).steps
    files = apply_files(files_seen(driver, settings, sections), steps)
    after = with_files(driver, settings, sections, files)
    for step in steps:
        if isinstance(step.action, Command):
            facts, after = effects(step, facts, after)
    return steps, facts, after


def replan(driver: FeatureDriver, settings: Any, facts: Facts, sections: dict[str, Section]) -> list[Step]:
    return driver.plan(settings, driver.observe(sections), facts).steps


def facts_with(facts: Facts, **update: Any) -> Facts:
    return facts.model_copy(update=update)


def summaries(steps: list[Step]) -> list[tuple[str, str]]:
    return [(s.op, s.summary) for s in steps]


def targets(steps: list[Step]) -> list[str]:
    return [s.target for s in steps]


def replace(step: Step, **changes: Any) -> Step:
    return dataclasses.replace(step, **changes)


def package_section(name: str, package: str, *, manager: str = "apt-get", installed: bool = False,
                    lists: int | None = 3, enabled: str = "not-found", active: str = "") -> Section:
    """The answer `packages.package_probe` prints for a host in this state, in its format (see
    the real captures in tests/fixtures/features): each tool's exit status and words.

    Linux: `enabled=""` is a host without systemctl; `active=""` one where systemd does not
    run (is-active is not asked). Homebrew: `enabled` is the LaunchDaemon plist, `active` pgrep's."""
    lines = [f"manager: {manager}"]
    if manager == "apt-get":
        lines += (["dpkg.rc: 0", "dpkg: ii "] if installed
                  else ["dpkg.rc: 1", f"dpkg.err: dpkg-query: no packages found matching {package}"])
        lines += ["lists.rc: 0"] + [f"lists: /var/lib/apt/lists/mirror_dists_{i}_Packages.lz4" for i in range(lists or 0)]
    elif manager in ("dnf", "yum"):
        lines += ["rpm.rc: 0", f"rpm: {package}-1.0-1.x86_64"] if installed else [
            "rpm.rc: 1", f"rpm: package {package} is not installed"]
    elif manager == "brew":
        lines += ["brew.rc: 0", f"brew: {package} 1.0"] if installed else ["brew.rc: 1"]
        lines += (["enabled: enabled"] if enabled == "enabled" else []) + [f"pgrep.rc: {0 if active == 'active' else 1}"]
        return section(name, lines)
    if enabled:
        lines += [f"enabled.rc: {0 if enabled in ('enabled', 'static') else 1}", f"enabled: {enabled}"]
        lines += [f"active.rc: {0 if active == 'active' else 3}", f"active: {active}"] if active else [
            "systemd: not running"]
    return section(name, lines)


def package_changed(driver: Any, sections: dict[str, Section], name: str, package: str,
                    **change: Any) -> dict[str, Section]:
    """`sections` with the package probe `name` answering for the host as `driver` observes it
    there (manager, installed, lists, enabled, active), with `change` made: a Command's effect
    on the package as a test models it."""
    now = driver.observe(sections)
    state = dict(manager=now.manager or "none", installed=now.installed, lists=now.lists, enabled=now.enabled,
                 active=now.active)
    return {**sections, name: package_section(name, package, **{**state, **change})}
