"""The facts script: quoting of user data, POSIX-sh behaviour, and the locale guard."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess

import pytest
from hypothesis import given
from hypothesis import strategies as st

from axis.drivers.facts import FACTS_TOOLS, build_script, parse_facts
from axis.specs.names import TOOL_NAME_RE

EVIL = ["$(touch /tmp/x)", "`id`", "a;b", "a b", "a\nb", "-v", "", "x" * 65, "a|b", "a'b",
        "../bin/sh", "a&&b", "${HOME}", "é"]


@pytest.mark.parametrize("name", EVIL)
def test_invalid_tool_names_are_rejected(name: str) -> None:
    with pytest.raises(ValueError):
        build_script([name])


def test_valid_extra_tools_appear_quoted_in_the_tool_loop() -> None:
    extras = ["rsync", "python3.11", "g++", "clang-format", "uv"]
    script = build_script(extras).text
    line = next(ln for ln in script.splitlines() if ln.startswith("_axis_section tools "))
    words = shlex.split(line)[3:]
    assert words == [*FACTS_TOOLS, *extras]
    for name in extras:
        assert shlex.quote(name) in line


def test_duplicates_are_probed_once() -> None:
    line = next(ln for ln in build_script(["git", "rsync", "rsync"]).text.splitlines()
                if ln.startswith("_axis_section tools "))
    assert shlex.split(line).count("git") == 1 and shlex.split(line).count("rsync") == 1


@given(st.text(max_size=80))
def test_only_plain_names_get_into_the_script(name: str) -> None:
    try:
        script = build_script([name]).text
    except ValueError:
        assert not TOOL_NAME_RE.fullmatch(name)
        return
    assert TOOL_NAME_RE.fullmatch(name)
    line = next(ln for ln in script.splitlines() if ln.startswith("_axis_section tools "))
    assert shlex.split(line)[-1] == name or name in FACTS_TOOLS


def test_rejected_name_never_runs(tmp_path) -> None:
    marker = tmp_path / "pwned"
    with pytest.raises(ValueError):
        build_script([f"$(touch {marker})"])
    assert not marker.exists()


def test_locale_is_forced_before_any_probe() -> None:
    lines = build_script().text.splitlines()
    first_probe = next(i for i, ln in enumerate(lines) if ln.startswith("_axis_section "))
    forced = next(i for i, ln in enumerate(lines) if ln.startswith("LC_ALL=C;"))
    assert forced < first_probe


SHELLS = [s for s in (["dash", "-s"], ["bash", "--posix", "-s"]) if shutil.which(s[0])]


@pytest.mark.parametrize("shell", SHELLS, ids=lambda s: s[0])
def test_script_is_valid_and_complete_in_posix_shells(shell: list[str]) -> None:
    script = build_script(["sh"])
    assert subprocess.run([shell[0], "-n"], input=script.text, text=True).returncode == 0
    env = dict(os.environ, LC_ALL="de_DE.UTF-8", LANG="de_DE.UTF-8", LC_NUMERIC="de_DE.UTF-8")
    out = subprocess.run(shell, input=script.text, text=True, capture_output=True, env=env,
                         timeout=60).stdout
    facts = parse_facts(out, script.boundary)
    assert facts.status == "complete", facts.missing
    assert facts.tools["sh"] is not None
    assert not facts.notes


def test_a_probe_reading_stdin_cannot_swallow_the_script() -> None:
    script = build_script()
    text = script.text.replace("_axis_section uname _axis_uname",
                               "_axis_section eat cat\n_axis_section uname _axis_uname", 1)
    out = subprocess.run(["sh", "-s"], input=text, text=True, capture_output=True,
                         timeout=60).stdout
    m = f"@@axis:{script.boundary}"
    assert f"{m}:section:eat\n\n{m}:end:eat rc=0\n" in out
    assert out.endswith(f"{m}:done\n")


def _stub(bin_dir, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)


def _run_with_stubs(tmp_path, stubs: dict[str, str]):  # type: ignore[no-untyped-def]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in stubs.items():
        _stub(bin_dir, name, body)
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}")
    script = build_script()
    out = subprocess.run(["sh", "-s"], input=script.text, text=True, capture_output=True,
                         env=env, timeout=60).stdout
    return parse_facts(out, script.boundary)


@pytest.mark.skipif(os.uname().sysname != "Linux", reason="the Linux branch of the script")
def test_a_uid_without_a_name_and_a_vm_need_one_id_and_one_detect_virt(tmp_path) -> None:
    calls = tmp_path / "calls"
    facts = _run_with_stubs(tmp_path, {
        "id": f'echo "id $*" >> {calls}\n'
              '[ "$1" = -un ] && { echo "id: cannot find name for user ID 1234" >&2; exit 1; }\n'
              'echo "uid=1234 gid=1234 groups=1234"\n',
        "systemd-detect-virt": f'echo "virt $*" >> {calls}\necho kvm\n',
    })
    assert facts.sudo is not None and (facts.sudo.uid, facts.sudo.user) == (1234, None)
    assert facts.virtualization is not None
    assert facts.virtualization.vm == "kvm"  # (a container may still show in file hints here)
    assert not [h for h in facts.virtualization.hints if "--container" in h]
    assert calls.read_text().splitlines() == ["id ", "id -un", "virt "]


@pytest.mark.skipif(os.uname().sysname != "Linux", reason="the Linux branch of the script")
def test_inside_a_container_the_vm_beneath_is_asked_for(tmp_path) -> None:
    facts = _run_with_stubs(tmp_path, {
        "id": 'echo "uid=501(al) gid=20(staff) groups=20(staff)"\n',
        "systemd-detect-virt": '[ "$1" = --vm ] && { echo qemu; exit 0; }\necho docker\n',
    })
    assert facts.sudo is not None and (facts.sudo.uid, facts.sudo.user) == (501, "al")
    assert facts.virtualization is not None
    assert (facts.virtualization.vm, facts.virtualization.container) == ("qemu", "docker")


# --- the boundary reaches printf, which must be a builtin -----------------------------------

def test_one_tool_name_rule_one_public_api() -> None:
    """The spec's rule is the only one: the facts package exports no second validator."""
    import axis.drivers.facts as facts
    import axis.drivers.facts.script as script
    assert not hasattr(facts, "validate_tool_name") and not hasattr(script, "validate_tool_name")
    assert "validate_tool_name" not in facts.__all__ and not hasattr(script, "TOOL_NAME_RE")


@pytest.mark.parametrize("shell", ["dash", "bash"])
def test_printf_is_a_builtin_in_the_test_hosts_shells(shell: str) -> None:
    """The forms the script accepts are what these shells really print."""
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed")
    said = subprocess.run([shell, "-c", "command -V printf"], capture_output=True, text=True).stdout.strip()
    assert said == "printf is a shell builtin"
    script = build_script()
    out = subprocess.run([shell, "-s"], input=script.text, capture_output=True, text=True, timeout=60)
    assert f"@@axis:{script.boundary}:done" in out.stdout


def test_the_script_refuses_to_run_where_printf_is_no_builtin() -> None:
    """bash with its printf builtin disabled runs /usr/bin/printf: the boundary would be an argv
    every user sees in ps. The script stops before printing any marker and says why."""
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    script = build_script()
    out = subprocess.run(["bash", "-s"], input="enable -n printf\n" + script.text,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and out.stdout == ""
    assert "refusing to run: printf is not a builtin of this sh (printf is /usr/bin/printf)" in out.stderr
    assert script.boundary not in out.stderr
    facts = parse_facts(out.stdout, script.boundary, stderr=out.stderr)
    assert facts.status == "partial" and facts.os is None
    assert facts.missing["os"].startswith("the facts script did not run: axis facts: refusing to run: printf")
    assert any("refusing to run" in note for note in facts.notes)
