"""Every command's help shows what a user types: a flag shows no `<bool>`, a repeated option or
argument the type of one value, not the Python annotation `<list[str]>` (axis.cli.help_types)."""

from __future__ import annotations

import re

import pytest

from axis.cli.main import COMMANDS, GROUPS, run

IMPORTERS = ("pool", "axis-nodes", "ansible", "ssh-config")


@pytest.mark.parametrize("command", [[], *([name] for name, _, _ in COMMANDS), *(["import", i] for i in IMPORTERS)],
                         ids=lambda c: " ".join(c) or "axis")
def test_help_shows_no_python_types(command: list[str], capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    assert run([*command, "--help"]) == 0
    out = capsys.readouterr().out
    assert not re.findall(r"<(bool|list\[[^>]*\])>", out), out
    assert "--help" in out


def test_flags_show_no_type_and_repeated_values_their_own(capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    rows = {}
    for command in (["--help"], ["import", "pool", "--help"], ["apply", "--help"], ["on", "--help"]):
        assert run(command) == 0
        for line in capsys.readouterr().out.splitlines():
            cells = line.strip("│ ").split()
            if cells and cells[0] in ("*",):
                cells = cells[1:]
            if cells and (cells[0].startswith("--") or cells[0] == "command..."):
                rows[(command[0], cells[0])] = cells
    assert rows[("--help", "--debug")][1] == "show" and rows[("--help", "--version")][1] == "print"
    assert rows[("--help", "--state")][1] == "<str>"
    assert rows[("import", "--exclude")][1] == "<str>" and rows[("import", "--force")][1] == "overwrite"
    assert rows[("apply", "--filename")][1:3] == ["-f", "<path>"]
    assert rows[("on", "command...")][1] == "<str>"


def test_groups_are_the_import_group_only() -> None:
    """The parametrized list above covers every group's commands: only `import` has any."""
    assert [name for name, _, _ in GROUPS] == ["import"]


def test_a_typer_without_display_type_keeps_its_own_help(monkeypatch: pytest.MonkeyPatch) -> None:
    # display_type is typer's own, not public: a typer that drops it must not break every command
    from typer.core import TyperArgument, TyperOption

    from axis.cli import help_types

    class Option(TyperOption):
        display_type = None  # type: ignore[assignment]

    monkeypatch.setattr(help_types, "TyperOption", Option)
    argument_before = TyperArgument.display_type
    monkeypatch.setattr(TyperArgument, "display_type", argument_before)  # restored after the test
    help_types.use_value_types()
    assert Option.display_type is None
    # each class is wrapped around its own display_type (one round more wraps it again, harmlessly)
    assert TyperArgument.display_type is not argument_before
    assert TyperArgument.display_type.__closure__[0].cell_contents is argument_before  # type: ignore[index]
