"""Progress lines for the base build, which is otherwise a silent minute (debootstrap, then the
test users): on stderr, each with the seconds since the build began, so that whoever runs
`python -m tests.sshhosts up` (or pytest with `-s`) sees it working and where it is.

debootstrap says what it does in `I: ...` lines (its `info` messages): one per package while it
retrieves, validates and extracts, then one per stage (installing core packages, unpacking and
configuring the required and base packages). A line is printed when the stage changes, and again
every `every` seconds within a long one (counting its packages), even while debootstrap says
nothing (`waiting`, called between its lines), so the user never stares at a still terminal.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

#: debootstrap's per-package messages, by their first word: the stage they belong to. Retrieving
#: and validating alternate per package (one stage). Its unpacking and configuring stages print
#: `Unpacking PACKAGE...` / `Configuring PACKAGE...` for each package (None: the current stage).
_PER_PACKAGE = {"Retrieving": "retrieving and validating packages", "Validating": "retrieving and validating packages",
                "Extracting": "extracting packages", "Unpacking": None, "Configuring": None}
#: The messages of those verbs that are a stage of their own.
_STAGES = ("Unpacking required packages...", "Configuring required packages...", "Unpacking the base system...",
           "Configuring the base system...")
#: Messages that name no stage of their own (details of the one in progress, or of the run).
_DETAILS = ("Found ", "Chosen extractor", "Valid Release signature", "Checking component", "Keyring file",
            "Target architecture", "Can't verify", "Using auto-detected proxy", "Deleting target")


def debootstrap_stage(line: str) -> tuple[str | None, bool] | None:
    """The stage an output line of debootstrap reports (None: the stage in progress), and
    whether it counts one more package; None for a line that says nothing of progress (dpkg's
    own output, details)."""
    if not line.startswith("I: "):
        return None
    message = line[3:].strip()
    verb = message.split(" ", 1)[0]
    if verb in _PER_PACKAGE and message not in _STAGES:
        return _PER_PACKAGE[verb], True
    if message.startswith(_DETAILS):
        return None
    text = message.rstrip(". ")
    return text[:1].lower() + text[1:], False


class BuildProgress:
    """Prints the build's progress lines (see the module's docstring) to `out`, stderr by default."""

    def __init__(self, out: TextIO | None = None, clock: Callable[[], float] = time.monotonic,
                 every: float = 10.0) -> None:
        self.out = out
        self.clock = clock
        self.every = every
        self.began = clock()
        self.stage = ""
        self.count = 0
        self.said_at = self.began

    def say(self, what: str) -> None:
        """One progress line now: `what`, after the seconds elapsed."""
        self.said_at = self.clock()
        print(f"test hosts: base build {self.said_at - self.began:4.0f}s  {what}", file=self.out or sys.stderr,
              flush=True)

    def stage_started(self, stage: str) -> None:
        """A stage of the build's own (not debootstrap's) begins."""
        self.stage, self.count = stage, 0
        self.say(stage)

    def line(self, text: str) -> None:
        """One output line of debootstrap."""
        found = debootstrap_stage(text)
        if found is None:
            return self.waiting()
        stage, counts = found
        if stage is not None and stage != self.stage:
            self.stage_started(stage)
        self.count += counts
        self.waiting()

    def waiting(self) -> None:
        """Between lines: repeat the stage if nothing was printed for `every` seconds."""
        if self.stage and self.clock() - self.said_at >= self.every:
            self.say(f"{self.stage} ({self.count} so far)" if self.count else f"{self.stage} (still)")
