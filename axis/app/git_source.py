"""What `axis controller --git URL` follows, built from the command line's words: the remote
(reached over SSH with the same options and host-key rules as the hosts), the ref, the spec path
inside the repo, the poll interval, the source's name and where its mirror is cached."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from axis.app.context import AppContext, AppError
from axis.drivers.connector import SshOptions
from axis.drivers.host_key_policy import HostKeyPolicy
from axis.reconcile.git_follow import GitSource
from axis.sources.git import GitError, GitRemote
from axis.sources.git_snapshot import repo_path
from axis.specs.models import dns_label
from axis.specs.units import parse_duration

logger = logging.getLogger(__name__)

def source_name(url: str) -> str:
    """The default name: the repo's last path word, without `.git`, as a DNS label (`fleet`)."""
    word = re.split(r"[/:]", url.rstrip("/"))[-1].removesuffix(".git")
    return re.sub(r"[^a-z0-9]+", "-", word.lower()).strip("-")[:63].strip("-") or "source"


def with_password(url: str, password: str) -> str:
    """An https URL carrying `password` (its user name kept, else `git`): the form GitRemote takes
    apart again to hand the secret to git through GIT_ASKPASS, never on a command line."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "https":
        raise AppError("AXIS_GIT_PASSWORD is only sent over https:// URLs")
    user = parts.username or "git"
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"))


def git_source(app: AppContext, url: str, *, ref: str, path: str, interval: str, name: str | None,
               allowed_signers: Path | None, password: str | None = None) -> GitSource:
    """The source to follow, or AppError naming the option that is wrong. `password` (from the
    environment, never the command line, which every local user can read in `ps`) goes with an
    https URL; one in the URL itself works too and is warned about."""
    try:
        every = parse_duration(interval)
    except ValueError as exc:
        raise AppError(f"--interval: {exc}") from exc
    name = name or source_name(url)
    try:
        dns_label(name)
    except ValueError as exc:
        raise AppError(f"--name: {exc}") from exc
    try:
        inside = repo_path(path)
    except GitError as exc:
        raise AppError(f"--path: {exc}") from exc
    if allowed_signers is not None and not allowed_signers.is_file():
        raise AppError(f"--verify-signatures: {allowed_signers}: no such file")
    if urlsplit(url).password is not None:
        logger.warning("the --git URL carries a password: other users of this machine can read it in `ps`; "
                       "put it in AXIS_GIT_PASSWORD instead")
    if password:
        url = with_password(url, password)
    ssh = app.connector if isinstance(app.connector, SshOptions) else SshOptions()
    try:
        remote = GitRemote(url, ref, ssh_config=ssh.ssh_config, known_hosts=ssh.known_hosts,
                           accept_new=ssh.policy is HostKeyPolicy.ACCEPT_NEW)
    except ValueError as exc:  # a URL or ref git would misread: refused before anything runs
        raise AppError(f"--git/--ref: {exc}") from exc
    cache = app.state.side_file("sources") / name
    return GitSource(name, remote, str(inside), float(every), cache,
                     None if allowed_signers is None else allowed_signers.resolve())
