"""The facts script's two ways of capturing a section's stderr print the same bytes, and the root
probes' shell prints the same sections as probes run in the script itself.

Where /dev/shm takes the run's stderr file, probes run in the script's own shell and their stderr
goes through that (unlinked) file; elsewhere a command substitution per section captures it. Both
frame at most 20 non-empty lines, a last line without its newline included. The file is never
left behind, and a name already taken (someone else's file or link) is neither written nor
removed: that run captures stderr the other way. Run with this machine's dash and bash.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess

import pytest

from axis.drivers.facts import build_script
from axis.drivers.facts.script import ROOT_GROUP, FactsScript
from axis.drivers.facts.sections import ScriptOutput, split_sections
from axis.drivers.features.probes import file_probe

SHELLS = [s for s in ("dash", "bash") if shutil.which(s)]
HAS_SHM = os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK)

#: Probes whose stderr tests the framing: many lines, blank lines, no final newline, none at all.
PROBES = {
    "t.many": "i=0; while [ $i -lt 30 ]; do echo \"line $i\" >&2; [ $i = 3 ] && echo >&2; i=$((i+1)); done; echo out",
    "t.partial": "printf 'no newline at the end' >&2; printf 'stdout too'; exit 4",
    "t.quiet": "echo only stdout",
    "t.exit": "echo before; exit 3",
    "t.file": file_probe("/nonexistent/axis-test").command,
}
#: Sections whose content moves between two runs (load, memory, processes, disk use).
VOLATILE = {"loadavg", "meminfo", "psi", "df", "df_root", "memory_enforcement"}


def _run(script: FactsScript, shell: str, text: str | None = None) -> ScriptOutput:
    out = subprocess.run([shell, "-s"], input=text or script.text, text=True, capture_output=True, timeout=60)
    return split_sections(out.stdout, script.boundary)


def _without_shm(script: FactsScript) -> str:
    return script.text.replace("/dev/shm/.axis-facts-", "/nonexistent-dir/.axis-facts-", 1)


def _comparable(out: ScriptOutput) -> dict[str, tuple]:
    return {name: (s.rc, s.stderr, None if name in VOLATILE else s.text) for name, s in out.sections.items()}


@pytest.mark.skipif(not HAS_SHM, reason="no writable /dev/shm here")
@pytest.mark.parametrize("shell", SHELLS)
def test_the_stderr_file_and_the_command_substitution_print_the_same(shell: str) -> None:
    script = build_script(["sh"], PROBES)
    through_file, substituted = _run(script, shell), _run(script, shell, _without_shm(script))
    assert through_file.done and substituted.done
    assert _comparable(through_file) == _comparable(substituted)
    many = through_file.sections["t.many"]
    # 20 lines framed at most: the blank one counts toward them, unprinted
    assert many.stderr == [f"line {i}" for i in range(19)]
    partial = through_file.sections["t.partial"]
    assert (partial.rc, partial.stderr, partial.text) == (4, ["no newline at the end"], "stdout too")
    assert through_file.sections["t.file"].rc == 3 and through_file.sections["t.exit"].rc == 3


@pytest.mark.skipif(not HAS_SHM, reason="no writable /dev/shm here")
def test_the_stderr_file_is_gone_after_the_run() -> None:
    before = set(glob.glob("/dev/shm/.axis-facts-*"))
    assert _run(build_script([], PROBES), "sh").done
    assert set(glob.glob("/dev/shm/.axis-facts-*")) == before


@pytest.mark.skipif(not HAS_SHM, reason="no writable /dev/shm here")
def test_a_taken_name_is_left_alone_and_the_run_still_complete(tmp_path) -> None:
    script = build_script([], PROBES)
    name = next(line for line in script.text.splitlines() if line.startswith("_axis_e="))[len("_axis_e="):]
    target = tmp_path / "victim"
    target.write_text("precious\n")
    os.symlink(target, name)
    try:
        out = _run(script, "sh")
        assert os.path.islink(name) and target.read_text() == "precious\n"
    finally:
        os.unlink(name)
    assert out.done and _comparable(out) == _comparable(_run(script, "sh", _without_shm(script)))


@pytest.mark.parametrize("shell", SHELLS)
def test_root_probes_through_one_root_shell_print_what_they_print_in_the_script(shell: str) -> None:
    """`sh -c 'sh -s'` stands for `sudo -n sh -c 'sh -s'` (this is no sudo test): the probes
    come back as the same sections, then the group's own section, empty, with its status."""
    plain = _run(build_script([], PROBES), shell)
    rooted = _run(build_script([], {}, root_sections=PROBES, root_shell="sh -c 'sh -s'"), shell)
    assert rooted.done
    assert {n: _comparable(rooted)[n] for n in PROBES} == {n: _comparable(plain)[n] for n in PROBES}
    group = rooted.sections[ROOT_GROUP]
    assert (group.rc, group.text, group.stderr) == (0, "", [])


def test_a_root_shell_that_fails_leaves_its_words_and_status_in_the_group_section() -> None:
    out = _run(build_script([], {}, root_sections=PROBES,
                            root_shell="echo 'sudo: a password is required' >&2; exit 1; sh -s"), "sh")
    assert out.done and not set(PROBES) & set(out.sections)
    group = out.sections[ROOT_GROUP]
    assert (group.rc, group.stderr) == (1, ["sudo: a password is required"])


def test_root_probes_need_a_root_shell() -> None:
    with pytest.raises(ValueError):
        build_script([], {}, root_sections=PROBES)
