"""The disk clean-up script: one POSIX sh text, the diskCleanup cron job and `axis clean` alike.

`render(settings)` is the single source of truth. The diskCleanup driver installs it as
/etc/cron.daily/axis-disk-cleanup; `axis clean` sends the very same text over stdin
(`sh -s -- [--deep] [--dry-run]`, as root) with the host's effective settings, and
`parse_report` reads back the lines it prints:

    <P>:start date=... retention_days=3 deep_at_percent=85 dry_run=no used_percent=91
    <P>:step tier=safe result=removed files=12 bytes=3456789 dirs=1 name=/tmp
    <P>:error apt-get -y autoremove --purge exited 100: E: Could not get lock ...
    <P>:clean before=... after=... freed=... deep=yes deep_reason=disk dry_run=no
              used_percent=91 estimate=... errors=0

where <P> is the report prefix `@@axis`. `result` is removed / would-remove (files),
ran / would-run (a command), failed, skipped, skipped-symlink; `files`, `bytes`, `dirs` are
numbers or `-` when unknown; `name` is the rest of the line. Other lines (a tool's own output,
indented) are for people reading the log.

What pool got wrong and this script does not: it never removes a tier's root directory (its
empty-directory pass deleted /tmp itself), and in /var/log it removes only rotated or
compressed logs, never a current log however old. It never follows a symlink (a symlinked
cache such as ~/.cache/huggingface -> /data is skipped) and never leaves the root's filesystem.

The text must not contain the report prefix followed by a colon: the driver reads the installed
file back through the facts script, whose section parser treats that sequence as a marker.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import Any

from axis.drivers.facts.sections import split_lines
from axis.drivers.features.base import MANAGED_MARK
from axis.drivers.shell_files import fill, read_shell_file
from axis.drivers.transport import RunResult, Transport
from axis.specs.features import DiskCleanupSettings

SCRIPT_PATH = "/etc/cron.daily/axis-disk-cleanup"
LOG_PATH = "/var/log/axis-disk-cleanup.log"
#: Test-only environment: a directory standing in for `/`, and a fake root-disk percentage.
TEST_ROOT_ENV = "AXIS_CLEAN_ROOT"
TEST_PERCENT_ENV = "AXIS_CLEAN_USED_PERCENT"

SAFE_CACHES = ("uv", "pip", "puppeteer", "mathlib", "thumbnails")
DEEP_CACHES = ("huggingface", "torch", "torch_extensions", "npm", "yarn", "go-build")
ROTATED_LOGS = ("*.gz", "*.xz", "*.bz2", "*.zst", "*.[0-9]", "*.old")

#: The script's text (`disk_cleanup.sh` beside this module); `render` fills its placeholders.
#: Its second line spells out MANAGED_MARK so that shellcheck reads it as a comment
#: (tests/features/test_disk_cleanup_script.py checks that the two agree).
_TEMPLATE = read_shell_file("axis.drivers.features", "disk_cleanup.sh")


def render(settings: DiskCleanupSettings) -> str:
    """The script for these settings: `#!/bin/sh`, the managed mark, then the clean-up."""
    values = {
        "@MARK@": MANAGED_MARK,
        "@DAYS@": str(int(settings.retention_days)),
        "@DEEP@": str(int(settings.deep_at_percent)),
        "@LOG@": LOG_PATH,
        "@SAFE_CACHES@": ",".join(SAFE_CACHES),
        "@DEEP_CACHES@": ",".join(DEEP_CACHES),
        "@SAFE_CACHES_SH@": " ".join(SAFE_CACHES),
        "@DEEP_CACHES_SH@": " ".join(DEEP_CACHES),
        "@ROTATED@": ", ".join(ROTATED_LOGS),
        "@ROTATED_FIND@": " -o ".join(f"-name '{p}'" for p in ROTATED_LOGS),
    }
    return fill(_TEMPLATE, values)


def command_line(*, deep: bool = False, dry_run: bool = False) -> str:
    """How `axis clean` runs the script: its text on stdin."""
    args = [a for a, on in (("--deep", deep), ("--dry-run", dry_run)) if on]
    return shlex.join(["sh", "-s", "--", *args])


# --- the report ---------------------------------------------------------------------------

_PREFIX = "@@axis:"
_FIELD_RE = re.compile(r"(\w+)=(\S*)\s*")


@dataclass(frozen=True)
class CleanStep:
    tier: str              # safe | deep
    result: str            # removed | would-remove | ran | would-run | partial | failed | skipped...
    name: str              # a directory, or the command
    files: int | None = None
    bytes: int | None = None
    dirs: int | None = None

    def to_data(self) -> dict[str, Any]:
        return {"tier": self.tier, "name": self.name, "result": self.result, "files": self.files,
                "bytes": self.bytes, "emptyDirs": self.dirs}


@dataclass
class CleanReport:
    """What the script said; `complete` only once its final summary line arrived."""

    complete: bool = False
    not_applicable: str | None = None     # e.g. "Darwin"
    before: int | None = None             # root disk used bytes
    after: int | None = None
    freed: int = 0
    deep: bool = False
    deep_reason: str = "no"               # flag | disk | no
    dry_run: bool = False
    used_percent: int | None = None
    estimate: int = 0                     # bytes the listed steps removed (or would remove)
    steps: list[CleanStep] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def tiers(self) -> str:
        return "safe+deep" if self.deep else "safe"


def _number(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


def _fields(text: str) -> tuple[dict[str, str], str]:
    """`k=v k=v name=rest of line` → ({k: v}, rest after name=)."""
    head, sep, name = text.partition(" name=")
    return {m.group(1): m.group(2) for m in _FIELD_RE.finditer(head)}, name if sep else ""


def parse_report(stdout: str) -> CleanReport:
    """Read the script's report lines; never raises on any text. Lines end at "\\n" only: a
    path in a `name=` may hold U+2028 or \\x1c, which must not start a report line of its own."""
    report = CleanReport()
    for line in split_lines(stdout):
        if not line.startswith(_PREFIX):
            continue
        kind, _, rest = line[len(_PREFIX):].partition(" ")
        if kind == "step":
            f, name = _fields(rest)
            report.steps.append(CleanStep(f.get("tier", "?"), f.get("result", "?"), name,
                                          _number(f.get("files")), _number(f.get("bytes")), _number(f.get("dirs"))))
        elif kind == "error":
            report.errors.append(rest.strip())
        elif kind == "skip":
            report.not_applicable = rest.removeprefix("not applicable on ").strip() or "this OS"
            report.complete = True
        elif kind == "clean":
            f, _ = _fields(rest)
            report.complete = True
            report.before, report.after = _number(f.get("before")), _number(f.get("after"))
            report.freed = _number(f.get("freed")) or 0
            report.deep = f.get("deep") == "yes"
            report.deep_reason = f.get("deep_reason", "no")
            report.dry_run = f.get("dry_run") == "yes"
            report.used_percent = _number(f.get("used_percent"))
            report.estimate = _number(f.get("estimate")) or 0
    return report


async def run_clean(transport: Transport, settings: DiskCleanupSettings, *, deep: bool = False,
                    dry_run: bool = False, timeout: float | None = None) -> tuple[CleanReport, RunResult]:
    """Run the script on a host as root (the transport's sudo rule); TransportError propagates."""
    result = await transport.run(command_line(deep=deep, dry_run=dry_run), input=render(settings),
                                 timeout=timeout, sudo=True)
    return parse_report(result.stdout), result
