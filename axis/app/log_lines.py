"""The controller's and the server's log: one timestamped line each on stderr, controls escaped."""

from __future__ import annotations

import logging
import sys
import time

from axis.specs.text import visible


def log_line(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {visible(message)}", file=sys.stderr, flush=True)


class _StderrLines(logging.Handler):
    """Log records as `log_line`s, written to whatever `sys.stderr` is at the time."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            log_line(self.format(record))
        except Exception:
            self.handleError(record)


def log_to_stderr(*, debug: bool) -> None:
    """Send the `axis` loggers (the controller's supervision) to stderr beside the loop's own
    lines; with --debug, tracebacks too. Idempotent."""
    root = logging.getLogger("axis")
    if not any(isinstance(h, _StderrLines) for h in root.handlers):
        root.addHandler(_StderrLines())
    root.setLevel(logging.DEBUG if debug else logging.INFO)
