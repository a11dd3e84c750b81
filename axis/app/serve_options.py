"""What `axis serve` was asked for, handed from the command line to the HTTP server that runs it
(`axis.api.http_server.serve_http`): the front ends share this, never each other's modules."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from axis.app.log_output import LogFormat

DEFAULT_LISTEN = "127.0.0.1:42425"


@dataclass(frozen=True)
class ServeOptions:
    """The listener (`listen`, who may reach it, TLS), the bearer token's file (None: beside the
    state DB), whether `POST /claims/{name}/exec` may run commands (`allow_exec`; off, it answers
    403), the controller loop to run beside it (`watch`, None: none), and the log's format (the
    front end sent the log to stderr; in JSON uvicorn's lines join it)."""

    listen: str = DEFAULT_LISTEN
    allow_remote: bool = False
    tls_cert: Path | None = None
    tls_key: Path | None = None
    insecure_http: bool = False
    token_file: Path | None = None
    allow_exec: bool = False
    watch: Path | None = None
    resync: str = "60s"
    jobs: int = 16
    log_format: LogFormat = LogFormat.human
