"""One git remote a source follows: its URL (with any credential kept off git's command line and
out of every message), the ref, and how ssh reaches it (the same rules as the hosts: strict
host keys unless accept-new was asked for).
"""

from __future__ import annotations

import ipaddress

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

#: URL schemes git may be given; a scheme-less URL is scp-like (``user@host:path``) or a path.
SCHEMES = ("ssh", "https", "http", "file")
#: The askpass script answers git's two prompts from these variables, which only the git
#: child's environment holds.
USERNAME_VAR, PASSWORD_VAR = "AXIS_GIT_USERNAME", "AXIS_GIT_PASSWORD"
ASKPASS_SCRIPT = f"""#!/bin/sh
# axis: answers git's credential prompts from the git child's environment (see git_remote.py).
case "$1" in
Username*) printf '%s\\n' "${USERNAME_VAR}" ;;
*) printf '%s\\n' "${PASSWORD_VAR}" ;;
esac
"""
_HELPER = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)::")
_HEX_SHA = re.compile(r"(?:[0-9a-f]{40}|[0-9a-f]{64})")
# git check-ref-format's rules, less what only matters for creating refs.
_BAD_REF = re.compile(r"(^[-/.])|(\.\.)|(@\{)|([\x00-\x20\x7f~^:?*\[\\])|(/[./])|([/.]$)|(\.lock$)")


@dataclass(frozen=True)
class GitRemote:
    """A remote and the ref of it to follow.

    ``url``: ssh://, user@host:path (scp-like), https://, http://, file:// or a local path.
    ``ref``: a branch or tag name, or a full ref (refs/heads/x, refs/tags/v1).
    ``ssh_config``/``known_hosts``/``accept_new``: the options hosts are reached with.
    A URL or ref git would misread (an option, a control character, another transport) raises
    ValueError here, before anything runs.
    """

    url: str = field(repr=False)
    ref: str = "main"
    ssh_config: Path | None = None
    known_hosts: Path | None = None
    accept_new: bool = False

    def __post_init__(self) -> None:
        url = self.url
        if not url or url.startswith("-") or any(ord(c) < 0x20 or c == "\x7f" for c in url):
            raise ValueError("git URL: empty, starts with '-' or holds a control character")
        kind = url_kind(url)
        if kind not in SCHEMES + ("scp", "path"):
            raise ValueError(f"git URL: scheme {kind!r} is not one of {', '.join(SCHEMES)}")
        if kind == "ssh" and urlsplit(url).password is not None:
            raise ValueError("git URL: ssh takes no password from the URL (BatchMode); use a key")
        if kind == "http" and urlsplit(url).username is not None and not _loopback(urlsplit(url).hostname):
            raise ValueError("git URL: a credential over plain http would travel in clear text; use https")
        if _BAD_REF.search(self.ref):
            raise ValueError(f"git ref {self.ref!r}: not a valid branch, tag or ref name")
        if self.known_hosts is not None and '"' in str(self.known_hosts):
            raise ValueError("known_hosts path: a '\"' cannot be passed to ssh -o")

    def __repr__(self) -> str:
        return f"GitRemote({self.display_url()!r}, ref={self.ref!r})"

    def display_url(self) -> str:
        """The URL to show: an http(s) password, or a lone user name (a token), becomes "***"."""
        user, password = self._credentials()
        if user is None:
            return self.url
        shown = f"{user}:***" if password is not None else "***"
        return _with_userinfo(self.url, shown)

    def revision(self, sha: str) -> str:
        """Flux's revision form: ``main@sha1:<sha>`` (``sha256:`` for a SHA-256 repository)."""
        algo = "sha256" if len(sha) == 64 else "sha1"
        return f"{short_ref(self.ref)}@{algo}:{sha}"

    def git_url(self) -> str:
        """The URL git is given: without the credential (that goes through askpass)."""
        return _with_userinfo(self.url, None) if self._credentials()[0] is not None else self.url

    def candidate_refs(self) -> list[str]:
        """The full refs ``ref`` may name, in the order git's own lookup would not settle."""
        if self.ref.startswith("refs/"):
            return [self.ref]
        return [f"refs/heads/{self.ref}", f"refs/tags/{self.ref}"]

    def credential_env(self, askpass: Path) -> dict[str, str]:
        """Environment for git when the URL carries a credential, else nothing.

        The credential reaches git only through the askpass script and these variables (never
        argv, which ``ps`` shows); a credential helper is not asked, nor told to store it.
        """
        user, password = self._credentials()
        if user is None:
            return {}
        return {"GIT_ASKPASS": str(askpass), USERNAME_VAR: user, PASSWORD_VAR: password or "",
                "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "credential.helper", "GIT_CONFIG_VALUE_0": ""}

    def ssh_command(self) -> str:
        """``GIT_SSH_COMMAND``: OpenSSH, batch mode, strict host keys unless accept-new."""
        argv = ["ssh"]
        if self.ssh_config is not None:
            argv += ["-F", str(self.ssh_config.expanduser())]
        argv += ["-o", "BatchMode=yes",
                 "-o", f"StrictHostKeyChecking={'accept-new' if self.accept_new else 'yes'}"]
        if self.known_hosts is not None:
            # Quoted: ssh splits this option's value on spaces; '%' would start a token.
            path = str(self.known_hosts.expanduser()).replace("%", "%%")
            argv += ["-o", f'UserKnownHostsFile="{path}"']
        return shlex.join(argv)

    def scrub(self, text: str) -> str:
        """``text`` with the full URL shown as display_url() and any secret as "***"."""
        if self._credentials()[0] is None:
            return text
        text = text.replace(self.url, self.display_url())
        for secret in self._secrets():
            text = text.replace(secret, "***")
        return text

    def _credentials(self) -> tuple[str | None, str | None]:
        """(user, password) decoded, from an http(s) URL's userinfo; (None, None) without one."""
        if url_kind(self.url) not in ("https", "http"):
            return None, None
        parts = urlsplit(self.url)
        if "@" not in parts.netloc:
            return None, None
        userinfo = parts.netloc.rpartition("@")[0]
        user, colon, password = userinfo.partition(":")
        return unquote(user), unquote(password) if colon else None

    def _secrets(self) -> list[str]:
        """The secret in every form a message may quote it: as written in the URL and decoded."""
        user, password = self._credentials()
        userinfo = urlsplit(self.url).netloc.rpartition("@")[0]
        raw_user, _, raw_password = userinfo.partition(":")
        found = [password, raw_password] if password is not None else [user, raw_user]
        return sorted({s for s in found if s}, key=len, reverse=True)


def url_kind(url: str) -> str:
    """The URL's scheme (lower case), or "scp" for ``[user@]host:path``, or "path".

    ``<helper>::<address>`` (git's remote-helper form, ``ext::`` runs a command) gives the
    helper's name followed by "::", which no caller accepts.
    """
    helper = _HELPER.match(url)
    if helper:
        return f"{helper.group(1)}::"
    if "://" in url:
        return url.split("://", 1)[0].lower()
    colon, slash = url.find(":"), url.find("/")
    return "scp" if colon > 0 and (slash == -1 or colon < slash) else "path"


def short_ref(ref: str) -> str:
    """``refs/heads/main`` → ``main``, ``refs/tags/v1`` → ``v1``; other names as given."""
    for prefix in ("refs/heads/", "refs/tags/"):
        if ref.startswith(prefix):
            return ref[len(prefix):]
    return ref


def is_sha(text: str) -> bool:
    """A full lowercase hex object name (SHA-1 or SHA-256): safe to put on git's command line."""
    return _HEX_SHA.fullmatch(text) is not None


def _loopback(host: str | None) -> bool:
    """A host name that never leaves this machine: plain http to it sends nothing over a network."""
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _with_userinfo(url: str, userinfo: str | None) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    netloc = f"{userinfo}@{host}" if userinfo is not None else host
    return urlunsplit(parts._replace(netloc=netloc))
