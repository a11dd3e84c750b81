"""The `.sh` files axis sends are package data: found by importlib.resources, named in pyproject.

A wheel or `pip install .` ships only what `[tool.setuptools.package-data]` names beside the
Python modules: a `.sh` file it missed would make every fact gathering fail on an installed axis
while a checkout works. (Building a wheel here would need a newer setuptools than the test venv
has; the globs are what setuptools reads, so they are checked instead.)
"""

from __future__ import annotations

import fnmatch
import tomllib
from importlib.resources import files
from pathlib import Path

import pytest

import axis
from axis.drivers.facts.script import build_script
from axis.drivers.shell_files import SHELL_DIRECTIVE, fill, read_shell_file

ROOT = Path(axis.__file__).parent
SHIPPED = sorted(ROOT.rglob("*.sh"))


def test_every_shell_file_is_named_by_package_data():
    config = tomllib.loads((ROOT.parent / "pyproject.toml").read_text())
    package_data: dict[str, list[str]] = config["tool"]["setuptools"]["package-data"]
    assert len(SHIPPED) >= 2
    for path in SHIPPED:
        package = ".".join(path.parent.relative_to(ROOT.parent).parts)
        assert any(fnmatch.fnmatch(path.name, glob) for glob in package_data.get(package, [])), path


@pytest.mark.parametrize("package, name", [("axis.drivers.facts", "facts.sh"),
                                           ("axis.drivers.features", "disk_cleanup.sh")])
def test_importlib_resources_finds_each_shell_file(package, name):
    resource = files(package).joinpath(name)
    assert resource.is_file()
    assert read_shell_file(package, name) == resource.read_text(encoding="utf-8").removeprefix(SHELL_DIRECTIVE)


def test_the_facts_script_sends_no_shellcheck_directive_and_no_placeholder():
    text = build_script(["ollama"], {"x.y": "true"}).text
    assert text.startswith("# axis facts script v2: ") and "shellcheck" not in text
    assert not any(f"@{p}@" in text for p in ("VERSION", "MARKER", "NVIDIA_QUERY", "TOOLS", "SYSCTLS", "EXTRA_SECTIONS"))


def test_fill_replaces_in_one_pass_and_refuses_an_unknown_placeholder():
    assert fill("a @X@ @Y@", {"@X@": "@Y@", "@Y@": "y"}) == "a @Y@ y"
    with pytest.raises(ValueError, match="@Z@"):
        fill("a @X@", {"@X@": "x", "@Z@": "z"})
