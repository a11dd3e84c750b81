"""The controller's and the server's log on stderr: the `axis` loggers' records, one line each.

Every module logs to its own logger (`logging.getLogger(__name__)`); `axis controller` and `axis
serve` send the `axis` tree to stderr in one of two formats (`--log-format`):

- human (the default): `HH:MM:SS message`, local time; a record's traceback follows on its own
  lines. Controls and bidi overrides are escaped (`axis.specs.text.visible`), since a message
  quotes what a host said or a spec held and must not rewrite the reader's terminal.
- json: one object per line: `time` (UTC, ISO 8601), `level`, `logger`, `message`, then the
  fields the call passed as `extra=` (host, result, seconds...), and `traceback` when there is
  one. JSON escapes every control and every non-ASCII character, so a line stays one line.

The handler writes to whatever `sys.stderr` is when a record comes (a test's capture, a pipe)
and never raises: a log line that cannot be written (stderr closed under a stopping controller)
must not take down the loop that logs it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from datetime import UTC, datetime
from enum import StrEnum

from axis.specs.text import visible

#: A LogRecord's own attributes; whatever else a record carries came from `extra=`.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class LogFormat(StrEnum):
    """`--log-format` of `axis controller` and `axis serve` (module docstring)."""

    human = "human"
    json = "json"


class HumanLines(logging.Formatter):
    """`HH:MM:SS message` (local time), everything escaped that could drive a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(message)s", datefmt="%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        return visible(super().format(record))


class JsonLines(logging.Formatter):
    """One JSON object per record: time, level, logger, message, the record's `extra` fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES:
                line.setdefault(key, value)
        if record.exc_info:
            line["traceback"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class _StderrLines(logging.Handler):
    """Formatted records on whatever `sys.stderr` is at the time; never raises (module docstring)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            print(self.format(record), file=sys.stderr, flush=True)
        except Exception:
            with contextlib.suppress(Exception):  # handleError itself writes to stderr
                self.handleError(record)


#: The loggers sent to stderr: axis's own, and in JSON uvicorn's too (`axis.api.http_server`
#: leaves uvicorn's logging to us then), so that every line is one object.
_LOGGERS = {LogFormat.human: ("axis",), LogFormat.json: ("axis", "uvicorn")}


def log_to_stderr(fmt: LogFormat = LogFormat.human, *, debug: bool = False) -> None:
    """Send the `axis` loggers to stderr in `fmt`, at INFO (with --debug, DEBUG: tracebacks
    too). Idempotent; a second call replaces the first one's format."""
    formatter = JsonLines() if fmt is LogFormat.json else HumanLines()
    for name in ("axis", "uvicorn"):
        logger = logging.getLogger(name)
        for handler in [h for h in logger.handlers if isinstance(h, _StderrLines)]:
            logger.removeHandler(handler)
        if name in _LOGGERS[fmt]:
            handler = _StderrLines()
            handler.setFormatter(formatter)
            logger.addHandler(handler)
    logging.getLogger("axis").setLevel(logging.DEBUG if debug else logging.INFO)
