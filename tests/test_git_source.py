"""The git mechanics of a source (axis.sources), against real repositories on this machine.

Each test builds a repo with the real git, serves it by file:// or by path, and drives a
`GitMirror` the way the controller's loop does: remote_head, fetch when it moved, snapshot.
CI installs git (`.ci/run`); without it these tests skip and say how to get it.
"""

from __future__ import annotations

import asyncio
import base64
import http.server
import os
import shutil
import stat
import subprocess
import threading
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

from axis.sources import GitError, GitMirror, GitRemote
from tests.gitrepo import Repo

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed (apt-get install git)")

T = TypeVar("T")


@pytest.fixture(autouse=True)
def _own_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The mirror reads ~/.gitconfig like the user's git: give it an empty home."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    r = Repo(tmp_path / "repo")
    r.commit({"specs/hosts.yaml": "kind: Host\n", "README": "not a spec\n"}, "first")
    return r


def mirror_of(repo: Repo, tmp_path: Path, ref: str = "main", *, url: str | None = None) -> GitMirror:
    return GitMirror(GitRemote(url or f"file://{repo.root}", ref), tmp_path / "cache", timeout=20)


def in_mirror(mirror: GitMirror, sha: str) -> bool:
    return subprocess.run(["git", "--git-dir", str(mirror.repo), "cat-file", "-e", f"{sha}^{{commit}}"],
                          capture_output=True).returncode == 0


@pytest.mark.parametrize("by", ["file-url", "path"])
def test_head_then_fetch_only_what_moved(repo: Repo, tmp_path: Path, by: str) -> None:
    first = repo.git("rev-parse", "HEAD")
    mirror = mirror_of(repo, tmp_path, url=f"file://{repo.root}" if by == "file-url" else str(repo.root))
    assert run(mirror.remote_head()) == first
    assert not in_mirror(mirror, first), "ls-remote alone must not bring objects"
    assert run(mirror.fetch()) == first and in_mirror(mirror, first)
    second = repo.commit({"specs/hosts.yaml": "kind: Host\n# two\n"})
    assert run(mirror.remote_head()) == second
    assert not in_mirror(mirror, second)
    assert run(mirror.fetch()) == second
    assert run(mirror.is_ancestor(first, second)) is True
    assert run(mirror.is_ancestor(second, first)) is False
    assert mirror.remote.revision(second) == f"main@sha1:{second}"


def test_tags_peeled_and_full_refs(repo: Repo, tmp_path: Path) -> None:
    commit = repo.git("rev-parse", "HEAD")
    repo.git("tag", "-a", "v1", "-m", "release 1")
    repo.git("tag", "light")
    tag_object = repo.git("rev-parse", "v1")
    assert tag_object != commit
    for ref in ("v1", "refs/tags/v1", "light"):
        mirror = mirror_of(repo, tmp_path / ref.replace("/", "_"), ref)
        assert run(mirror.remote_head()) == commit, ref
        assert run(mirror.fetch()) == commit, ref
    assert GitRemote("/x", "refs/tags/v1").revision(commit) == f"v1@sha1:{commit}"
    assert GitRemote("/x", "refs/heads/main").revision(commit) == f"main@sha1:{commit}"


def test_a_name_both_branch_and_tag_is_refused(repo: Repo, tmp_path: Path) -> None:
    repo.git("tag", "main")
    with pytest.raises(GitError, match="both a branch and a tag") as caught:
        run(mirror_of(repo, tmp_path).remote_head())
    assert caught.value.reason == "FetchFailed"
    assert run(mirror_of(repo, tmp_path / "full", "refs/heads/main").remote_head()) == repo.git("rev-parse", "HEAD")


def test_force_push_is_not_a_fast_forward(repo: Repo, tmp_path: Path) -> None:
    mirror = mirror_of(repo, tmp_path)
    old = run(mirror.fetch())
    repo.git("checkout", "-q", "--orphan", "rewritten")
    new = repo.commit({"specs/hosts.yaml": "kind: Host\n# rewritten\n"}, "rewrite")
    repo.git("branch", "-q", "-M", "rewritten", "main")
    assert run(mirror.remote_head()) == new
    assert run(mirror.fetch()) == new
    assert run(mirror.is_ancestor(old, new)) is False
    assert run(mirror.is_ancestor("0" * 40, new)) is False, "a commit the mirror lacks"
    assert run(mirror.is_ancestor("not-a-sha", new)) is False


def test_missing_ref_and_unreachable_remote(repo: Repo, tmp_path: Path) -> None:
    with pytest.raises(GitError, match="no ref 'nope'") as missing:
        run(mirror_of(repo, tmp_path, "nope").remote_head())
    assert missing.value.reason == "FetchFailed"
    gone = tmp_path / "no-such-repo"
    for url in (str(gone), f"file://{gone}"):
        mirror = GitMirror(GitRemote(url), tmp_path / "cache2", timeout=20)
        with pytest.raises(GitError) as caught:
            run(mirror.remote_head())
        assert caught.value.reason == "FetchFailed"
        assert str(gone) in str(caught.value) and "\n" not in str(caught.value)


def test_snapshot_is_the_commit_read_only_and_reused(repo: Repo, tmp_path: Path) -> None:
    mirror = mirror_of(repo, tmp_path)
    first = run(mirror.fetch())
    snap = run(mirror.snapshot(first, "specs"))
    assert snap.name == "specs" and sorted(p.name for p in snap.iterdir()) == ["hosts.yaml"]
    assert (snap / "hosts.yaml").read_text() == "kind: Host\n"
    for path in [snap.parent, snap, snap / "hosts.yaml"]:
        assert not stat.S_IMODE(path.stat().st_mode) & 0o222, f"{path} is writable"
    assert run(mirror.snapshot(first, "./specs/")) == snap, "the same directory for the same commit and path"
    (repo.root / "specs" / "hosts.yaml").chmod(0o755)
    second = repo.commit({"specs/hosts.yaml": "kind: Host\n# later\n", "specs/more/claim.yaml": "kind: Claim\n"})
    run(mirror.fetch())
    later = run(mirror.snapshot(second, "specs"))
    assert later != snap and (later / "more" / "claim.yaml").read_text() == "kind: Claim\n"
    assert (snap / "hosts.yaml").read_text() == "kind: Host\n", "an older snapshot never changes"
    assert stat.S_IMODE((later / "hosts.yaml").stat().st_mode) == 0o555, "the executable bit kept, write bits not"
    whole = run(mirror.snapshot(second, ""))
    assert sorted(p.name for p in whole.iterdir()) == ["README", "specs"]
    mirror.prune_snapshots({second})
    assert not snap.exists() and later.exists() and whole.exists()


def test_snapshot_paths_that_are_not_a_spec_directory(repo: Repo, tmp_path: Path) -> None:
    mirror = mirror_of(repo, tmp_path)
    sha = run(mirror.fetch())
    for path, words in [("nope", "no such path"), ("README", "not a directory"), ("../etc", "inside the repo"),
                        ("/etc", "inside the repo")]:
        with pytest.raises(GitError, match=words) as caught:
            run(mirror.snapshot(sha, path))
        assert caught.value.reason == "SpecInvalid"
    with pytest.raises(GitError, match="not in the mirror") as unfetched:
        run(mirror.snapshot("1" * 40, "specs"))
    assert unfetched.value.reason == "FetchFailed"


def test_symlinks_and_submodules_are_refused(repo: Repo, tmp_path: Path) -> None:
    os.symlink("/etc/passwd", repo.root / "specs" / "link.yaml")
    repo.git("add", "specs/link.yaml")
    linked = repo.commit({}, "a link")
    repo.git("rm", "-q", "specs/link.yaml")
    repo.git("update-index", "--add", "--cacheinfo", f"160000,{linked},specs/sub")
    submodule = repo.commit({}, "a submodule")
    mirror = mirror_of(repo, tmp_path)
    run(mirror.fetch())
    for sha, words in [(linked, "specs/link.yaml: a symlink"), (submodule, "specs/sub: a submodule")]:
        with pytest.raises(GitError, match=words) as caught:
            run(mirror.snapshot(sha, "specs"))
        assert caught.value.reason == "SpecInvalid"
    assert not [p for p in mirror.snapshots.iterdir()], "nothing half-built is left"


def test_export_attributes_do_not_change_the_snapshot(repo: Repo, tmp_path: Path) -> None:
    sha = repo.commit({".gitattributes": "specs/subst.yaml export-subst\nspecs/hidden.yaml export-ignore\n",
                       "specs/subst.yaml": "# $Format:%H$\n", "specs/hidden.yaml": "kind: Host\n"})
    mirror = mirror_of(repo, tmp_path)
    run(mirror.fetch())
    snap = run(mirror.snapshot(sha, "specs"))
    assert (snap / "subst.yaml").read_text() == "# $Format:%H$\n"
    assert (snap / "hidden.yaml").is_file()


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(listed key, unlisted key, allowed_signers naming only the first)."""
    listed, unlisted = tmp_path / "listed", tmp_path / "unlisted"
    for key in (listed, unlisted):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", key.name, "-f", str(key)], check=True)
    signers = tmp_path / "allowed_signers"
    signers.write_text(f"dev@example.org {listed.with_suffix('.pub').read_text()}")
    return listed, unlisted, signers


def test_signatures_verified_against_allowed_signers(repo: Repo, tmp_path: Path,
                                                     keys: tuple[Path, Path, Path]) -> None:
    listed, unlisted, signers = keys
    unsigned = repo.git("rev-parse", "HEAD")
    good = repo.commit({"specs/a.yaml": "a\n"}, sign_with=listed)
    stranger = repo.commit({"specs/b.yaml": "b\n"}, sign_with=unlisted)
    mirror = mirror_of(repo, tmp_path)
    run(mirror.fetch())
    assert run(mirror.verify(good, signers)).startswith('Good "git" signature for dev@example.org')
    for sha, words in [(unsigned, "no signature"), (stranger, "No principal matched")]:
        with pytest.raises(GitError, match=words) as caught:
            run(mirror.verify(sha, signers))
        assert caught.value.reason == "VerificationFailed"
        assert str(caught.value).startswith(f"main@sha1:{sha}: ")


def test_credentials_never_shown(tmp_path: Path) -> None:
    remote = GitRemote("https://user:s3cret@127.0.0.1:1/x.git")
    assert remote.display_url() == "https://user:***@127.0.0.1:1/x.git"
    assert remote.git_url() == "https://127.0.0.1:1/x.git"
    assert "s3cret" not in repr(remote)
    assert GitRemote("https://ghp_T0KEN@example.org/x.git").display_url() == "https://***@example.org/x.git"
    assert GitRemote("https://u:p%40ss@example.org/x").scrub("p@ss and p%40ss") == "*** and ***"
    mirror = GitMirror(remote, tmp_path / "cache", timeout=20)
    with pytest.raises(GitError) as caught:
        run(mirror.remote_head())
    assert caught.value.reason == "FetchFailed" and "s3cret" not in str(caught.value)
    assert "127.0.0.1:1" in str(caught.value)
    askpass = tmp_path / "cache" / "askpass"
    assert stat.S_IMODE(askpass.stat().st_mode) == 0o700 and "s3cret" not in askpass.read_text()


def test_ssh_command_is_strict_by_default() -> None:
    assert GitRemote("git@git.example:fleet.git").ssh_command() == (
        "ssh -o BatchMode=yes -o StrictHostKeyChecking=yes")
    remote = GitRemote("ssh://git@git.example/fleet.git", ssh_config=Path("/etc/axis/ssh config"),
                       known_hosts=Path("/k/known hosts%"), accept_new=True)
    assert remote.ssh_command() == ("ssh -F '/etc/axis/ssh config' -o BatchMode=yes -o StrictHostKeyChecking=accept-new "
                                    "-o 'UserKnownHostsFile=\"/k/known hosts%%\"'")


def _fake_ssh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> Path:
    """An `ssh` first on PATH that records its argv (and pid) in tmp_path/ssh.log, then runs ``body``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "ssh.log"
    fake = bin_dir / "ssh"
    fake.write_text(f'#!/bin/sh\necho "$$ $*" >> {log}\n{body}\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    return log


def test_git_reaches_ssh_urls_through_openssh_strictly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = _fake_ssh(tmp_path, monkeypatch, "echo 'Host key verification failed.' >&2; exit 255")
    mirror = GitMirror(GitRemote("ssh://git@127.0.0.1:2222/srv/fleet.git"), tmp_path / "cache", timeout=20)
    with pytest.raises(GitError, match="Host key verification failed") as caught:
        run(mirror.remote_head())
    assert caught.value.reason == "FetchFailed"
    argv = log.read_text().split(maxsplit=1)[1]
    assert "-o BatchMode=yes -o StrictHostKeyChecking=yes" in argv and "-p 2222 git@127.0.0.1" in argv


def test_ssh_urls_fetch_through_the_ssh_command(repo: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """scp-like and ssh:// URLs both reach the repo through `ssh` (here one that runs the
    remote command locally, as sshd would run it for the user)."""
    _fake_ssh(tmp_path, monkeypatch, 'for last; do :; done; exec sh -c "$last"')
    head = repo.git("rev-parse", "HEAD")
    for i, url in enumerate([f"git@127.0.0.1:{repo.root}", f"ssh://git@127.0.0.1:2222{repo.root}"]):
        mirror = GitMirror(GitRemote(url), tmp_path / f"cache{i}", timeout=20)
        assert run(mirror.remote_head()) == head and run(mirror.fetch()) == head, url


def test_a_hung_remote_is_killed_at_the_deadline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = _fake_ssh(tmp_path, monkeypatch, "exec sleep 60")
    mirror = GitMirror(GitRemote("git@127.0.0.1:fleet.git"), tmp_path / "cache", timeout=1.5)
    started = time.monotonic()
    with pytest.raises(GitError, match="timed out after 1.5s"):
        run(mirror.remote_head())
    assert time.monotonic() - started < 10
    ssh_pid = int(log.read_text().split()[0])
    time.sleep(0.2)
    assert _gone(ssh_pid), "the whole process group goes: ssh (here: its sleep) included"


def _gone(pid: int) -> bool:
    """Not running: no such process, or a zombie its new parent has not reaped yet."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except FileNotFoundError:
        return True
    return fields[0] in ("Z", "X")


@pytest.mark.parametrize(("url", "ref"), [
    ("-oProxyCommand=touch /tmp/x", "main"), ("ext::sh -c touch% /tmp/x", "main"), ("git://host/x", "main"),
    ("ssh://u:pw@host/x", "main"), ("", "main"), ("/x\nfatal", "main"),
    ("/x", "a..b"), ("/x", "-b"), ("/x", "main lock"), ("/x", "refs/heads/"), ("/x", "x.lock"),
])
def test_urls_and_refs_git_would_misread_are_refused(url: str, ref: str) -> None:
    with pytest.raises(ValueError):
        GitRemote(url, ref)


class _GitOverHTTP(http.server.BaseHTTPRequestHandler):
    """git's smart HTTP (git http-backend as a CGI) behind Basic auth for one user."""

    project_root = Path()
    expected_auth = ""

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        if self.headers.get("Authorization") != self.expected_auth:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="fleet"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path, _, query = self.path.partition("?")
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        env = dict(os.environ, GIT_PROJECT_ROOT=str(self.project_root), GIT_HTTP_EXPORT_ALL="1",
                   REQUEST_METHOD=self.command, PATH_INFO=path, QUERY_STRING=query,
                   CONTENT_TYPE=self.headers.get("Content-Type", ""), CONTENT_LENGTH=str(len(body)),
                   GIT_PROTOCOL=self.headers.get("Git-Protocol", ""), REMOTE_USER="user")
        if self.headers.get("Content-Encoding") == "gzip":
            env["HTTP_CONTENT_ENCODING"] = "gzip"
        out = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True, check=True).stdout
        head, _, payload = out.partition(b"\r\n\r\n")
        headers = [line.split(": ", 1) for line in head.decode().split("\r\n")]
        status = next((int(v.split()[0]) for k, v in headers if k == "Status"), 200)
        self.send_response(status)
        for key, value in headers:
            if key != "Status":
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def test_https_credentials_reach_git_only_through_askpass(repo: Repo, tmp_path: Path) -> None:
    """User and password from the URL authenticate (over plain http on loopback here), and the
    user's own credential helper neither answers nor stores them."""
    served = tmp_path / "served"
    subprocess.run(["git", "clone", "-q", "--bare", str(repo.root), str(served / "fleet.git")], check=True)
    handler = type("Handler", (_GitOverHTTP,), {
        "project_root": served, "expected_auth": "Basic " + base64.b64encode(b"user:s3c@ret").decode()})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    home = Path(os.environ["HOME"])
    (home / ".gitconfig").write_text("[credential]\n\thelper = store\n")
    try:
        url = f"http://user:s3c%40ret@127.0.0.1:{server.server_port}/fleet.git"
        mirror = GitMirror(GitRemote(url), tmp_path / "cache", timeout=20)
        head = repo.git("rev-parse", "HEAD")
        assert run(mirror.remote_head()) == head
        assert run(mirror.fetch()) == head
        wrong = GitMirror(GitRemote(url.replace("s3c%40ret", "n0pe")), tmp_path / "cache2", timeout=20)
        with pytest.raises(GitError, match="Authentication failed") as caught:
            run(wrong.remote_head())
        assert "n0pe" not in str(caught.value)
    finally:
        server.shutdown()
        server.server_close()
    assert not (home / ".git-credentials").exists(), "a credential helper was told the password"
    config = (tmp_path / "cache" / "mirror.git" / "config").read_text()
    assert "s3c" not in config
