"""swapfile on real probe output from a Debian 12 container (no swap, fstab without entries)."""

from __future__ import annotations

import asyncio
import shlex
import shutil
import subprocess

import pytest

from axis.drivers.facts.models import SwapDeviceFacts, SwapFacts
from axis.drivers.features.base import MANAGED_MARK, Command, RemoveFile, WriteFile
from axis.drivers.features.execute import run_steps
from axis.drivers.features.swapfile import (FSTAB, FSTAB_MARK, MARKER, SYSCTL, Swapfile, create_command,
                                            fstab_add, fstab_remove, marker_text, remove_file_command)
from axis.reconcile.plan import plan_host
from axis.specs.effective import EffectiveFeature
from axis.specs.features import SwapfileSettings
from tests.fake_transport import FakeTransport
from tests.features.hostsim import (capture, commands, converge, facts_with, file_section, files_seen, replan,
                                    section, summaries, with_files)

D = Swapfile()
G = 2**30
S = SwapfileSettings(size="32G", swappiness=10)
FSTAB_LINE = "/swapfile none swap sw 0 0"


def debian():
    return capture("debian12-container.txt")


def host_effects(step, facts, sections, *, refuse_live=False):
    """What the commands do on a host: build the file, swapon/swapoff, load the sysctl."""
    action = step.action
    assert isinstance(action, Command)
    words = action.command.split()
    if "mkswap" in action.command:
        path = S.path if shlex.quote(S.path) in action.command else None
        size = int(action.command.split("fallocate -l ")[1].split()[0])
        files = [line for line in sections["swapfile.files"].lines if not line.endswith("\t" + path)]
        sections = {**sections, "swapfile.files": section("swapfile.files", [*files, f"{size}\tregular file\t{path}"])}
    elif words[0].startswith("if") and "rm -f --" in action.command:  # remove the swap file
        path = shlex.split(action.command.rsplit("rm -f -- ", 1)[1])[0]
        files = [line for line in sections["swapfile.files"].lines if not line.endswith("\t" + path)]
        sections = {**sections, "swapfile.files": section("swapfile.files", files)}
    elif refuse_live and step.live:
        pass
    elif words[0] == "swapon":
        size = int(next(line for line in sections["swapfile.files"].lines if line.endswith("\t" + words[1])).split("\t")[0])
        swaps = [*facts.swaps, SwapDeviceFacts(path=words[1], type="file", size_bytes=size, used_bytes=0, priority=-2)]
        facts = facts_with(facts, swaps=swaps, swap=SwapFacts(total_bytes=sum(s.size_bytes for s in swaps), used_bytes=0))
    elif words[0] == "swapoff":
        swaps = [s for s in facts.swaps if s.path != words[1]]
        facts = facts_with(facts, swaps=swaps, swap=SwapFacts(total_bytes=sum(s.size_bytes for s in swaps), used_bytes=0))
    elif words[0] == "sysctl":
        facts = facts_with(facts, swappiness=S.swappiness)
    return facts, sections


def converged():
    """The Debian container after applying the from-scratch plan (swapon accepted)."""
    facts, sections = debian()
    _, facts, sections = converge(D, S, facts, sections, host_effects)
    return facts, sections


def test_probes_are_named_per_feature_and_quote_the_path():
    probes = D.probes(SwapfileSettings(path="/srv/o'brien$(id)/swap"))
    assert set(probes) == {"swapfile.fstab", "swapfile.fstab_mode", "swapfile.sysctl", "swapfile.marker",
                           "swapfile.files"}
    assert "'/srv/o'\"'\"'brien$(id)/swap'" in probes["swapfile.files"].command
    assert all(p.as_root for p in probes.values())  # read with the steps' privilege (sudo -n)
    assert set(D.probes(False)) == set(probes)


def test_from_scratch_claims_creates_adds_fstab_line_activates_and_sets_swappiness():
    facts, sections = debian()
    assert facts.swap.total_bytes == 0 and facts.swaps == [] and facts.swappiness == 60
    steps = D.plan(S, D.observe(sections), facts).steps
    assert summaries(steps) == [
        ("+", f"create {MARKER} (claim the swap file path for axis)"),
        ("+", "create swap file /swapfile (32Gi)"),
        ("~", f"update {FSTAB} (swap line for /swapfile)"),
        ("~", "activate swap file /swapfile"),
        ("+", f"create {SYSCTL} (vm.swappiness = 10)"),
        ("~", f"load {SYSCTL} into the running kernel"),
    ]
    assert [s.live for s in steps] == [False, False, False, True, False, True]
    assert steps[0].action == WriteFile(MARKER, marker_text("/swapfile").encode(), expect="absent")
    create = steps[1].action.command
    assert "fallocate -l 34359738368 -- /swapfile.axis-new" in create and "count=32768" in create
    assert "chmod 600 -- /swapfile.axis-new" in create and "mkswap -- /swapfile.axis-new" in create
    assert create.index("mkswap") < create.index("mv -f -- /swapfile.axis-new /swapfile")
    # the captured fstab is kept; axis's line goes under its comment
    assert steps[2].action.content == f"# UNCONFIGURED FSTAB FOR BASE SYSTEM\n{FSTAB_MARK}\n{FSTAB_LINE}\n".encode()
    assert steps[2].action.content.count(FSTAB_LINE.encode()) == 1
    assert steps[4].action.content == f"{MANAGED_MARK}: swapfile\nvm.swappiness = 10\n".encode()
    assert [s.target for s in steps[3:]][::2] == ["swapon /swapfile", f"sysctl -p {SYSCTL}"]


def test_second_plan_on_the_converged_host_is_empty():
    facts, sections = converged()
    assert D.plan(S, D.observe(sections), facts).steps == []
    assert D.plan(S, D.observe(sections), facts).notes == []
    # axis's own 32G file does not count as "enough swap already": it stays managed
    assert facts.swap.total_bytes == 32 * G


def test_refused_swapon_and_sysctl_are_skipped_on_the_next_pass():
    facts, sections = debian()
    steps, facts, sections = converge(D, S, facts, sections, lambda st, f, s: host_effects(st, f, s, refuse_live=True))
    again = replan(D, S, facts, sections)
    assert summaries(again) == [("~", "activate swap file /swapfile"), ("~", f"load {SYSCTL} into the running kernel")]
    assert {s.key for s in again} <= {s.key for s in steps}  # same keys: the refusal is remembered
    refused = {"swapfile": {s.key: "swapon failed: Operation not permitted" for s in again}}
    plan = plan_host({"swapfile": EffectiveFeature("swapfile", S, "Host")}, sections, facts, refused)[0]
    assert plan.steps == [] and len(plan.skipped) == 2


def test_enough_swap_already_creates_nothing_and_says_why():
    facts, sections = debian()
    part = SwapDeviceFacts(path="/dev/nvme0n1p3", type="partition", size_bytes=64 * G, used_bytes=0, priority=-2)
    facts = facts_with(facts, swaps=[part], swap=SwapFacts(total_bytes=64 * G, used_bytes=0))
    state = D.observe(sections)
    assert D.plan(S, state, facts).steps == []
    assert D.plan(S, state, facts).notes == ["swap already 64.0Gi ≥ 32.0Gi: no swap file needed"]


def test_swap_the_kernel_shows_without_its_header_page_counts_as_its_full_size():
    """A 32 GiB swap file (pool's) is 32 GiB - 4 KiB in SwapTotal: enough, no second file. The
    slack is per area: two 16 GiB files, each a page short, are enough too; 2 MiB short is not."""
    facts, sections = debian()
    state = D.observe(sections)

    def with_areas(*sizes):
        areas = [SwapDeviceFacts(path=f"/swapfile-{i}", type="file", size_bytes=size, used_bytes=0, priority=-2)
                 for i, size in enumerate(sizes)]
        return facts_with(facts, swaps=areas, swap=SwapFacts(total_bytes=sum(sizes), used_bytes=0))

    page = 4096
    one = with_areas(32 * G - page)
    assert D.plan(S, state, one).steps == []
    assert D.plan(S, state, one).notes == ["swap already 32.0Gi ≥ 32.0Gi: no swap file needed"]
    assert D.plan(S, state, with_areas(16 * G - page, 16 * G - page)).steps == []
    unknown_areas = facts_with(facts, swaps=None, swap=SwapFacts(total_bytes=32 * G - page, used_bytes=0))
    assert D.plan(S, state, unknown_areas).notes[0] == "swap already 32.0Gi ≥ 32.0Gi: no swap file needed"
    short = D.plan(S, state, with_areas(32 * G - 2 * 2**20)).steps
    assert ("+", "create swap file /swapfile (32Gi)") in summaries(short)


def test_a_file_axis_did_not_make_is_left_alone():
    facts, sections = debian()
    sections = {**sections, "swapfile.files": section("swapfile.files", [f"{2 * G}\tregular file\t/swapfile"])}
    state = D.observe(sections)
    assert D.plan(S, state, facts).steps == []
    assert D.plan(S, state, facts).notes == ["/swapfile exists and axis did not make it: left alone (choose another path)"]


def test_the_real_stat_line_is_read():
    _, extra = capture("debian12-installed-and-file.txt")
    state = D.observe({**debian()[1], "swapfile.files": extra["swapfile.files"]})
    assert state.files["/tmp/axis-swapfile-fixture"].size == 4 * 2**20
    assert state.files["/tmp/axis-swapfile-fixture"].kind == "regular file"


def test_wrong_size_is_recreated_after_swapoff_then_converges():
    facts, sections = converged()
    small = SwapfileSettings(size="16G", swappiness=10)
    steps = D.plan(small, D.observe(sections), facts).steps
    assert summaries(steps) == [("~", "deactivate swap file /swapfile to resize it"),
                                ("~", "recreate swap file /swapfile (16Gi)"),
                                ("~", "activate swap file /swapfile")]
    assert steps[0].live and not steps[1].live and steps[2].live
    assert "is in use as swap: swapoff it first" in steps[1].action.command  # never over an active file


def test_existing_fstab_line_is_never_duplicated():
    facts, sections = converged()
    user_fstab = f"UUID=abcd / ext4 defaults 0 1\n{FSTAB_LINE}\n"
    sections = with_files(D, S, sections, {**files_seen(D, S, sections), FSTAB: user_fstab})
    assert D.plan(S, D.observe(sections), facts).steps == []


def test_missing_fstab_is_created_with_only_axis_line():
    facts, sections = debian()
    sections = {**sections, "swapfile.fstab": file_section("swapfile.fstab", None, FSTAB)}
    step = next(s for s in D.plan(S, D.observe(sections), facts).steps if s.target == FSTAB)
    assert step.op == "+" and step.action.content == f"{FSTAB_MARK}\n{FSTAB_LINE}\n".encode()


def test_false_removes_only_what_axis_made_then_nothing():
    facts, sections = converged()
    files = files_seen(D, S, sections)
    # someone else's swap line and fstab entries stay
    files[FSTAB] = b"UUID=abcd / ext4 defaults 0 1\n" + files[FSTAB] + b"/dev/sdb2 none swap sw 0 0\n"
    sections = with_files(D, S, sections, files)
    steps, facts2, sections2 = converge(D, False, facts, sections, host_effects)
    assert summaries(steps) == [
        ("-", "deactivate swap file /swapfile"),
        ("-", "remove swap file /swapfile (axis made it)"),
        ("~", f"update {FSTAB} (drop axis's swap line)"),
        ("-", f"remove {SYSCTL} (vm.swappiness)"),
        ("-", f"remove {MARKER} (the swap file axis made)"),
    ]
    assert steps[0].live
    assert steps[2].action.content == (b"UUID=abcd / ext4 defaults 0 1\n# UNCONFIGURED FSTAB FOR BASE SYSTEM\n"
                                       b"/dev/sdb2 none swap sw 0 0\n")
    assert "still in use as swap: not removed" in steps[1].action.command
    assert replan(D, False, facts2, sections2) == []


def test_false_on_a_host_axis_never_touched_plans_nothing():
    facts, sections = debian()
    assert D.plan(False, D.observe(sections), facts).steps == []
    # a swappiness file without the managed mark is not axis's
    sections = with_files(D, False, sections, {SYSCTL: "vm.swappiness = 1\n"})
    assert D.plan(False, D.observe(sections), facts).steps == []


def test_fstab_remove_keeps_unmarked_lines_for_the_same_path():
    text = f"{FSTAB_LINE}\n{FSTAB_MARK}\n{FSTAB_LINE}\n".encode()
    assert fstab_remove(text, "/swapfile") == f"{FSTAB_LINE}\n".encode()
    assert fstab_remove(text, "/other") == text


def test_fstab_add_drops_axis_comment_left_without_its_line():
    # the swap line was deleted by hand, axis's comment stayed: the repair keeps one comment
    assert fstab_add(f"# base\n{FSTAB_MARK}\n".encode(), "/swapfile") == f"# base\n{FSTAB_MARK}\n{FSTAB_LINE}\n".encode()
    assert fstab_add(f"{FSTAB_MARK}\n\n# other\n".encode(), "/swapfile") == \
        f"\n# other\n{FSTAB_MARK}\n{FSTAB_LINE}\n".encode()
    # a comment with an entry under it stays (that line may be someone's); the file's missing
    # final newline stays missing, after axis's line
    theirs = f"{FSTAB_MARK}\n/dev/sdb2 none swap sw 0 0".encode()
    assert fstab_add(theirs, "/swapfile") == theirs + f"\n{FSTAB_MARK}\n{FSTAB_LINE}".encode()


def test_path_change_removes_the_old_file_and_makes_the_new_one():
    facts, sections = converged()
    moved = SwapfileSettings(size="32G", swappiness=10, path="/var/swap")
    sections = {**sections, "swapfile.files": section("swapfile.files", [f"{32 * G}\tregular file\t/swapfile"])}
    steps = D.plan(moved, D.observe(sections), facts).steps
    assert summaries(steps)[:5] == [
        ("-", "deactivate swap file /swapfile"),
        ("-", "remove swap file /swapfile (axis made it)"),
        ("~", f"update {MARKER} (claim the swap file path for axis)"),
        ("+", "create swap file /var/swap (32Gi)"),
        ("~", f"update {FSTAB} (swap line for /var/swap)"),
    ]
    fstab = steps[4].action.content
    assert b"/swapfile none" not in fstab and fstab.count(FSTAB_MARK.encode()) == 1
    assert b"/var/swap none swap sw 0 0" in fstab


ODD = "/o'b$(touch${IFS}PWNED);x`id`/swap"  # no spaces: the settings refuse them


def test_odd_characters_are_quoted_in_every_command():
    facts, sections = debian()
    odd = SwapfileSettings(size="1M", swappiness=10, path=ODD)
    steps = D.plan(odd, D.observe(sections), facts).steps
    assert ("~", f"activate swap file {ODD}") in summaries(steps)
    for command in commands(steps):
        assert ODD not in command.replace(shlex.quote(ODD), "").replace(shlex.quote(ODD + ".axis-new"), "") \
            .replace(shlex.quote("of=" + ODD + ".axis-new"), "")
    assert shlex.split(next(c for c in commands(steps) if c.startswith("swapon"))) == ["swapon", ODD]
    fstab = next(s for s in steps if s.target == FSTAB).action.content
    assert f"{ODD} none swap sw 0 0".encode() in fstab


@pytest.mark.skipif(shutil.which("mkswap") is None and not shutil.os.path.exists("/usr/sbin/mkswap"),
                    reason="mkswap not installed")
def test_create_and_remove_commands_really_run_with_an_odd_path(tmp_path):
    root = tmp_path / "o'b$(touch${IFS}PWNED);x`id`"
    root.mkdir()
    path = str(root / "swap")
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    done = subprocess.run(["sh", "-c", create_command(path, 2**20)], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    made = root / "swap"
    assert made.stat().st_size == 2**20 and oct(made.stat().st_mode & 0o777) == "0o600"
    assert made.read_bytes()[4086:4096] == b"SWAPSPACE2"  # mkswap's signature at the end of page 1
    assert not (root / "swap.axis-new").exists() and not (tmp_path / "PWNED").exists()
    gone = subprocess.run(["sh", "-c", remove_file_command(path)], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert gone.returncode == 0 and not made.exists() and not (tmp_path / "PWNED").exists()


def test_steps_run_through_the_transport_and_a_refused_swapon_is_reported():
    facts, sections = debian()
    steps = D.plan(S, D.observe(sections), facts).steps
    t = (FakeTransport(login_is_root=False, sudo_allowed=True)
         .script(r"swapon", stderr="swapon: /swapfile: swapon failed: Operation not permitted", exit_status=255)
         .script(r"sysctl -p", stderr="sysctl: permission denied on key \"vm.swappiness\"", exit_status=255)
         .script(r"mkswap", stdout=""))
    results = asyncio.run(run_steps(t, steps))
    assert [r.status for r in results] == ["done", "done", "done", "refused", "done", "refused"]
    assert "swapon failed: Operation not permitted" in results[3].message
    assert set(t.files) == {MARKER, FSTAB, SYSCTL}
    assert t.files[MARKER][0].decode() == marker_text("/swapfile")
    assert all(c.startswith("sudo -n sh -c ") for c in t.calls if not c.startswith("put "))
    assert t.calls[0] == f"put {MARKER}" and "mkswap" in t.calls[1]


def test_remove_file_step_failure_stops_the_feature():
    facts, sections = converged()
    steps = D.plan(False, D.observe(sections), facts).steps
    t = (FakeTransport()
         .script(r"^swapoff", stderr="swapoff: /swapfile: Operation not permitted", exit_status=255)
         .script(r"still in use", stderr="/swapfile is still in use as swap: not removed", exit_status=1))
    results = asyncio.run(run_steps(t, steps))
    assert [r.status for r in results] == ["refused", "failed"]  # fstab, sysctl, marker untouched
    assert t.files == {} and isinstance(steps[-1].action, RemoveFile)


def test_a_root_only_fstab_is_rewritten_with_its_own_mode():
    """A 600 fstab stays 600 (the write would chmod it 644 otherwise); one the host lacks is 644."""
    facts, sections = debian()
    sections = {**sections, "swapfile.fstab_mode": section("swapfile.fstab_mode", ["600"])}
    step = next(s for s in D.plan(S, D.observe(sections), facts).steps if s.target == FSTAB)
    assert step.action.mode == 0o600
    sections = {**sections, "swapfile.fstab": file_section("swapfile.fstab", None, FSTAB),
                "swapfile.fstab_mode": section("swapfile.fstab_mode", [], 3)}
    step = next(s for s in D.plan(S, D.observe(sections), facts).steps if s.target == FSTAB)
    assert step.op == "+" and step.action.mode == 0o644
