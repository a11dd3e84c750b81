"""The facts output framing (issue 16, T1 item 3): only a line that is exactly a marker carrying
this run's random boundary counts; marker-like text from the host (mount points, stderr, tool
output, markers of another run) is data, and every probe's stdout comes back exactly."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess

import pytest

from axis.drivers.facts import FactsScript, build_script, parse_facts
from axis.drivers.facts.script import marker_prefix
from axis.drivers.facts.sections import split_sections
from axis.reconcile.observe import gather_facts
from tests.factskit import boundary_of, load, parse, section, split
from tests.fake_transport import FakeTransport

B = "a" * 32
OTHER = "f" * 32  # the boundary of some other run


def _framed(*sections: str, os_name: str = "Linux", done: bool = True) -> str:
    head = f"@@axis:{B}:facts v=2 os={os_name}\n"
    return head + "".join(sections) + (f"@@axis:{B}:done\n" if done else "")


def _inject(output: str, name: str, extra: str) -> str:
    """``output`` with ``extra`` appended to section ``name``'s stdout (which ends with a newline)."""
    m = f"@@axis:{boundary_of(output)}"
    end = output.index(f"{m}:end:{name} ")
    assert output[:end].endswith("\n\n"), "stdout, then the script's own newline"
    return output[: end - 1] + extra + output[end - 1:]


# --- the hostile mount point ----------------------------------------------------------------

HOSTILE_MOUNTS = [
    "/tmp/m@@axis:section:uname",                   # the old protocol's marker, mid-line
    f"/tmp/m@@axis:{OTHER}:section:tools",          # the new syntax with a guessed boundary
]


def test_hostile_mount_points_leave_os_and_tools_intact() -> None:
    """A FUSE user's mount points show in `df` and /proc/mounts: a name that used to end the
    section and open `uname` (wrong OS) or `tools` (empty list) is now plain data."""
    clean = load("debian12")
    hostile = clean
    for path in HOSTILE_MOUNTS:
        hostile = _inject(hostile, "df", f"fuse.sshfs  1024  0  1024  0% {path}\n")
        hostile = _inject(hostile, "mounts", f"sshfs {path} fuse.sshfs rw,nosuid,nodev 0 0\n")
    # a device name may start a line of /proc/mounts; a newline in a name would start a line of df
    hostile = _inject(hostile, "mounts", f"@@axis:{OTHER}:end:mounts rc=0\n@@axis:{OTHER}:done\n")
    before, after = parse(clean), parse(hostile)
    assert after.os == before.os and after.hostname == before.hostname
    assert after.tools == before.tools and after.tools["git"] == "/usr/bin/git"
    assert after.status == "complete" and after.missing == before.missing and not after.notes
    sections = split(hostile).sections
    assert list(sections) == list(split(clean).sections)
    for path in HOSTILE_MOUNTS:
        assert f"fuse.sshfs  1024  0  1024  0% {path}" in sections["df"].lines
    assert sections["mounts"].lines[-2:] == [f"@@axis:{OTHER}:end:mounts rc=0", f"@@axis:{OTHER}:done"]


# --- forged markers in stdout and stderr --------------------------------------------------

FORGED = [
    "@@axis:section:uname",                  # the old protocol
    "@@axis:done",
    f"@@axis:{OTHER}:end:probe rc=0",        # another run's boundary
    f"@@axis:{OTHER}:section:uname",
    f"@@axis:{B}:end:probe rc=0 ",           # this run's, but not exactly a marker
    f" @@axis:{B}:done",
    f"@@axis:{B.upper()}:done",
    f"x@@axis:{B}:section:uname",
]


def test_marker_like_stdout_lines_are_data_exactly() -> None:
    stdout = "".join(line + "\n" for line in FORGED)
    out = split_sections(_framed(section(B, "probe", stdout, 0), section(B, "uname", "Linux\n")), B)
    assert list(out.sections) == ["probe", "uname"]
    assert out.sections["probe"].text == stdout and out.sections["probe"].lines == FORGED
    assert out.sections["probe"].rc == 0 and out.done


def test_marker_like_stderr_lines_stay_in_their_section() -> None:
    out = split_sections(_framed(section(B, "probe", "out\n", 3, stderr=FORGED),
                                 section(B, "next", "ok\n")), B)
    probe = out.sections["probe"]
    assert probe.stderr == FORGED and probe.rc == 3 and probe.text == "out\n"
    assert out.sections["next"].text == "ok\n" and out.sections["next"].rc == 0


def test_output_of_another_run_is_no_output_at_all() -> None:
    """A whole captured run replayed under a new boundary (or a forged one): nothing counts."""
    text = load("debian12")
    facts = parse_facts(text, OTHER)
    assert facts.status == "partial" and facts.os is None and facts.tools == {}
    assert any("no facts header with this run's boundary" in n for n in facts.notes)
    assert split_sections(text, OTHER).sections == {}


def test_an_end_or_stderr_marker_of_another_section_does_not_close_this_one() -> None:
    """The script never prints them; were it to, they are this section's data, not its end."""
    inner = f"x\n@@axis:{B}:end:b rc=0\n@@axis:{B}:stderr:b no\ny\n"
    out = split_sections(_framed(f"@@axis:{B}:section:a\n{inner}\n@@axis:{B}:end:a rc=0\n"), B)
    assert out.sections["a"].text == inner and out.sections["a"].stderr == [] and out.sections["a"].rc == 0
    assert list(out.sections) == ["a"]


# --- exact content, with or without a final newline -----------------------------------------

@pytest.mark.parametrize("stdout", ["60", "60\n", "", "\n", "a\n\n", "a\r\nb", "  \n x", "last@@axis:"])
def test_stdout_comes_back_exactly(stdout: str) -> None:
    out = split_sections(_framed(section(B, "s", stdout, 0, ["warn"])), B)
    assert out.sections["s"].text == stdout and out.sections["s"].stderr == ["warn"]
    assert out.sections["s"].lines == {"60": ["60"], "60\n": ["60"], "": [], "\n": [""], "a\n\n": ["a", ""],
                                       "a\r\nb": ["a\r", "b"], "  \n x": ["  ", " x"],
                                       "last@@axis:": ["last@@axis:"]}[stdout]


def test_cut_off_output_keeps_what_arrived() -> None:
    out = split_sections(_framed(section(B, "s", "a\nb", rc=None), done=False), B)
    assert out.sections["s"].rc is None and out.sections["s"].lines == ["a", "b"] and not out.done


# --- the boundary ---------------------------------------------------------------------------

def test_each_script_has_its_own_128_bit_boundary() -> None:
    scripts = [build_script() for _ in range(50)]
    boundaries = {s.boundary for s in scripts}
    assert len(boundaries) == 50
    assert all(re.fullmatch(r"[0-9a-f]{32}", b) for b in boundaries)
    assert all(f"_axis_m=@@axis:{s.boundary}\n" in s.text for s in scripts)
    assert B not in repr(FactsScript("x", B))  # never printed in logs by accident


@pytest.mark.parametrize("bad", ["", "0" * 31, "0" * 33, "A" * 32, "g" * 32, "0" * 31 + "\n", None])
def test_a_malformed_boundary_is_the_callers_bug(bad) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        marker_prefix(bad)
    with pytest.raises(ValueError):
        parse_facts("", bad)
    with pytest.raises(ValueError):
        split_sections("", bad)


def test_the_script_travels_on_stdin_never_in_the_command_line() -> None:
    """The SSH command line shows in `ps` to every user of the host while the script runs."""
    fake = FakeTransport("h").script(r"", stdout=load("debian12"))
    facts = asyncio.run(gather_facts(fake))
    command, script = fake.calls[0].split("\n", 1)
    assert command == "sh -s" and script.startswith("# axis facts script v2")
    assert facts.status == "complete"


def _run(script: FactsScript) -> str:
    return subprocess.run(["sh", "-s"], input=script.text, text=True, capture_output=True,
                          timeout=60).stdout


def test_probes_never_see_the_boundary() -> None:
    """Not in a probe's environment nor in any process's argv while the script runs."""
    assert shutil.which("ps"), "procps is needed here (.ci/run installs it)"
    probes = {"env": "env", "ps": "ps -eo args"}
    script = build_script(extra_sections=probes)
    out = split_sections(_run(script), script.boundary)
    assert out.sections["env"].rc == 0 and "PATH=" in out.sections["env"].text
    assert script.boundary not in out.sections["env"].text
    assert out.sections["ps"].rc == 0 and "sh -s" in out.sections["ps"].text
    assert script.boundary not in out.sections["ps"].text


def test_real_shell_probes_forging_markers_and_lacking_newlines() -> None:
    """Probes run by the real script print forged markers on stdout and stderr, and output
    without a final newline: every section keeps its exact stdout, the facts are intact."""
    forged = "\n".join(FORGED)
    probes = {
        "forge": f"printf '%s\\n' {_sq(forged)}; printf '%s\\n' {_sq(forged)} >&2; printf 'tail'",
        "bare": "printf 'no newline'",
        "blank": "printf 'x\\n\\n'",
        "empty": "true",
    }
    script = build_script(extra_sections=probes)
    output = _run(script)
    out = split_sections(output, script.boundary)
    assert out.sections["forge"].text == forged + "\ntail" and out.sections["forge"].rc == 0
    assert out.sections["forge"].stderr == [ln for ln in FORGED if ln.strip()]
    assert (out.sections["bare"].text, out.sections["blank"].text, out.sections["empty"].text) == \
        ("no newline", "x\n\n", "")
    facts = parse_facts(output, script.boundary)
    assert facts.status == "complete" and not facts.notes and facts.os is not None
    assert list(out.sections)[-4:] == list(probes) and out.done


def _sq(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


# --- lines end at "\n" only -----------------------------------------------------------------

#: What str.splitlines (and str.split()) take for line ends or blanks but the kernel does not
#: escape in /proc/mounts (only space, tab, newline, backslash) and df prints raw.
LINE_BREAKS = ["\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]
FORGED_ROW = "/dev/nvme9n1 9999999999 0 9999999999 0% /srv/big"


@pytest.mark.parametrize("brk", LINE_BREAKS, ids=[f"U+{ord(c):04X}" for c in LINE_BREAKS])
def test_a_line_break_in_a_mount_name_forges_no_disk(brk: str) -> None:
    """A FUSE user's mount `/home/u/m<brk>/dev/nvme9n1 9999999999 0 9999999999 0% /srv/big`:
    df prints it raw on one line, which must stay one row (the user's mount), never two."""
    clean = load("debian12")
    name = f"/home/u/m{brk}{FORGED_ROW}"
    hostile = _inject(clean, "df", f"sshfs  1024  0  1024  0% {name}\n")
    hostile = _inject(hostile, "mounts", f"sshfs {name.replace(' ', chr(92) + '040')} fuse.sshfs rw 0 0\n")
    before, after = parse(clean), parse(hostile)
    forged = [d for d in after.disks if d.mount == "/srv/big" or d.device == "/dev/nvme9n1"
              or d.size_bytes >= 9999999999 * 1024]
    assert forged == []
    assert [d for d in after.disks if d.mount != name] == before.disks
    assert [(d.device, d.size_bytes, d.fstype) for d in after.disks if d.mount == name] == [
        ("sshfs", 1024 * 1024, "fuse.sshfs")]
    assert after.root_disk == before.root_disk
    assert split(hostile).sections["df"].lines[-1] == f"sshfs  1024  0  1024  0% {name}"


@pytest.mark.parametrize("brk", LINE_BREAKS, ids=[f"U+{ord(c):04X}" for c in LINE_BREAKS])
def test_a_line_break_in_a_mount_name_changes_no_fstype(brk: str) -> None:
    """/proc/mounts lines are read by their space-separated fields: a mount point (or source)
    holding a line break or another non-blank must not set the fstype of `/` (last one wins)."""
    clean = load("debian12")
    hostile = _inject(clean, "mounts", f"fuse /home/u/m{brk}/dev/vda{brk}/{brk}evilfs fuse.x rw 0 0\n")
    hostile = _inject(hostile, "mounts", f"x{brk}/ /home/u/n fuse.y rw 0 0\n")
    hostile = _inject(hostile, "df", f"fuse  1024  0  1024  0% /home/u/n{brk}/dev/vda 1 0 1 0% /\n")
    before, after = parse(clean), parse(hostile)
    assert before.root_disk is not None and before.root_disk.fstype == "ext4"
    assert after.root_disk == before.root_disk
    assert [d for d in after.disks if d.mount == "/"] == [d for d in before.disks if d.mount == "/"]
    assert not any(d.fstype in ("evilfs", "fuse.x") and d.mount == "/" for d in after.disks)
