"""Every shell text axis sends to a host, through shellcheck (`-s sh`, warnings and errors).

The shipped `.sh` files as they are in the package (what an editor's shellcheck reads), the
facts script as built with every feature's probes, the job runner and its protocol's commands, the disk clean-up script (cron job and `axis clean`), each probe on its own (they run from
a quoted string, `_axis_probe`, that shellcheck would not look into from outside), the root probes' script, and the wrappers every
command passes through (sudo, the kill-on-timeout pid file, atomic writes). CI installs
shellcheck (`.ci/run`); without it these tests skip and say how to get it.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from importlib.resources import files
from pathlib import Path

import pytest

from axis.drivers.facts.script import build_script
from axis.drivers.features.cleanup_script import render
from axis.drivers.features import DRIVERS
from axis.drivers.jobs.protocol import Job, forget_command, job_state_command, logs_command, runner_command, stop_command
from axis.drivers.transport import atomic_write_command, kill_command, killable, privileged
from axis.specs.features import FEATURE_SETTINGS, DiskCleanupSettings

pytestmark = pytest.mark.skipif(shutil.which("shellcheck") is None,
                                reason="shellcheck is not installed (apt-get install shellcheck)")

#: Word splitting on purpose: `set -- $_axis_u` (under `set -f`) splits uname's three fields.
EXCLUDED = "SC2086"


def _settings(name: str):  # type: ignore[no-untyped-def]
    model = FEATURE_SETTINGS[name]
    return model.model_validate({"size": "1G"} if "size" in model.model_fields else {})


def _probes(sudo: bool = False) -> dict[str, str]:
    """Every probe's command; with `sudo`, those run as root wrapped as a sudo host sends them."""
    sections: dict[str, str] = {}
    for name, driver in DRIVERS.items():
        for settings in (_settings(name), False):
            sections.update({section: privileged(p.command, login_is_root=False, sudo_allowed=True)
                             if sudo and p.as_root else p.command for section, p in driver.probes(settings).items()})
    return sections


def _shellcheck(text: str, tmp_path: Path, label: str) -> str:
    path = tmp_path / f"{label}.sh"
    path.write_text(text)
    found = subprocess.run(["shellcheck", "-s", "sh", "-S", "warning", "-e", EXCLUDED, str(path)],
                           capture_output=True, text=True)
    return found.stdout + found.stderr


SHIPPED = [files("axis.drivers.facts").joinpath("facts.sh"), files("axis.drivers.facts").joinpath("facts_root.sh"),
           files("axis.drivers.features").joinpath("disk_cleanup.sh"),
           files("axis.drivers.jobs").joinpath("runner.sh")]


@pytest.mark.parametrize("shipped", SHIPPED, ids=lambda f: f.name)
def test_each_shipped_shell_file_is_clean_as_it_is(shipped):
    """The file itself, placeholders and all, with no `-s sh`: its own first line says the shell."""
    found = subprocess.run(["shellcheck", "-S", "warning", "-e", EXCLUDED, str(shipped)], capture_output=True, text=True)
    assert found.stdout + found.stderr == ""


def test_the_facts_script_with_every_feature_probe_is_clean(tmp_path):
    assert _shellcheck(build_script(["ollama", "my-tool"], _probes()).text, tmp_path, "facts") == ""
    assert _shellcheck(build_script(["ollama"], _probes(sudo=True)).text, tmp_path, "facts-sudo") == ""


def test_the_root_probes_script_is_clean(tmp_path):
    """What the one root shell of a sudo host reads (a here-document, which shellcheck does not
    look into from the facts script): the root probes' script with every root probe."""
    script = build_script(["ollama"], {}, root_sections=_probes(), root_shell="sudo -n sh -c 'sh -s'").text
    assert _shellcheck(script, tmp_path, "facts-root") == ""
    inner = script.split("<<'_AXIS_ROOT_", 1)[1].split("\n", 1)[1].rsplit("\n_AXIS_ROOT_", 1)[0]
    assert "_axis_probe" in inner and _shellcheck(inner, tmp_path, "root-probes") == ""


@pytest.mark.parametrize("section", sorted(_probes()))
def test_each_feature_probe_is_clean(section, tmp_path):
    assert _shellcheck(_probes()[section], tmp_path, section) == ""


def test_the_command_wrappers_are_clean(tmp_path):
    inner = "cat /etc/hostname; echo \"it's $HOME\""
    texts = {
        "sudo": privileged(inner, login_is_root=False, sudo_allowed=True),
        "killable": killable(inner, "t0k3n"),
        "kill": kill_command("t0k3n"),
        "write": atomic_write_command("/etc/sysctl.d/it's a [file].conf", 0o644, size=12),
        "write-over-read": atomic_write_command("/etc/it's $fstab", 0o600, size=12, expect="ab" * 32),
        "write-new": atomic_write_command("/etc/it's $fstab", 0o600, expect="absent"),
    }
    assert {label: _shellcheck(text, tmp_path, label) for label, text in texts.items()} == dict.fromkeys(texts, "")


def test_the_job_protocol_commands_are_clean(tmp_path):
    """The scripts of the state, stop, logs and forget commands (the runner is a shipped file)."""
    job = Job.new("eval", "true")
    commands = {"start": runner_command(job, cap=1, mode="cgroup", detach=True)[0], "state": job_state_command(job.id),
                "stop": stop_command(job.id), "logs": logs_command(job.id, True), "forget": forget_command(job.id)}
    scripts = {label: shlex.split(command)[2] for label, command in commands.items()}
    assert {label: _shellcheck(text, tmp_path, label) for label, text in scripts.items()} == dict.fromkeys(scripts, "")


def test_the_disk_cleanup_script_is_clean(tmp_path):
    settings = DiskCleanupSettings.model_validate({"retentionDays": 7, "deepAtPercent": 90})
    assert _shellcheck(render(settings), tmp_path, "cleanup") == ""
