"""`axis controller --git`'s words checked before anything starts: one line naming the option,
exit 1; a password kept off the command line (AXIS_GIT_PASSWORD) and never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from axis.app.context import AppContext, AppError
from axis.app.git_source import git_source, source_name, with_password
from axis.sources.git import GitRemote


def _source(tmp_path: Path, url: str = "https://git.example/fleet.git", **given):
    options = {"ref": "main", "path": "specs", "interval": "1m", "name": None, "allowed_signers": None, **given}
    return git_source(AppContext(state=tmp_path / "state.db"), url, **options)


def test_a_source_is_named_after_its_repository_and_cached_beside_the_state(tmp_path, monkeypatch):
    assert source_name("ssh://git@git.example/team/Fleet.Specs.git") == "fleet-specs"
    assert source_name("git@git.example:fleet.git") == "fleet"
    monkeypatch.chdir(tmp_path)
    source = git_source(AppContext(state=Path("state.db")), "file:///srv/fleet.git", ref="main", path="specs/",
                        interval="10s", name=None, allowed_signers=None)
    assert (source.name, source.path, source.interval) == ("fleet", "specs", 10.0)
    assert source.cache == tmp_path / "state.db.sources" / "fleet"  # absolute, whatever the working directory


@pytest.mark.parametrize(("given", "words"), [
    ({"interval": "0s"}, "--interval: invalid duration '0s': must be longer than zero"),
    ({"interval": "soon"}, "--interval:"),
    ({"name": "Fleet_1"}, "--name: 'Fleet_1' is not a DNS-1123 label"),
    ({"name": "fleet\n"}, "--name: 'fleet\\n' is not a DNS-1123 label"),
    ({"path": "../etc"}, "--path: ../etc: the path must be relative and inside the repo"),
    ({"path": "/srv"}, "--path: /srv: the path must be relative and inside the repo"),
    ({"path": "specs\x00"}, "--path: specs\x00: the path must be relative"),
    ({"ref": "main..x"}, "--git/--ref: git ref 'main..x'"),
    ({"allowed_signers": Path("/nonexistent/allowed")}, "--verify-signatures: /nonexistent/allowed: no such file"),
])
def test_wrong_words_are_refused_naming_the_option(tmp_path, given, words):
    with pytest.raises(AppError) as refused:
        _source(tmp_path, **given)
    assert str(refused.value).startswith(words), str(refused.value)


def test_a_password_from_the_environment_goes_to_git_only_and_is_never_shown(tmp_path, caplog):
    source = _source(tmp_path, password="s3cret/&:@")
    assert source.remote.display_url() == "https://git:***@git.example/fleet.git"
    assert "s3cret" not in repr(source.remote) and "s3cret" not in source.remote.git_url()
    assert with_password("https://ci@git.example/x.git", "t") == "https://ci:t@git.example/x.git"
    with pytest.raises(AppError, match="only sent over https"):
        _source(tmp_path, url="http://git.example/fleet.git", password="t")
    assert not caplog.records
    _source(tmp_path, url="https://ci:s3cret@git.example/fleet.git")
    assert [r.getMessage() for r in caplog.records] == [
        "the --git URL carries a password: other users of this machine can read it in `ps`; put it in "
        "AXIS_GIT_PASSWORD instead"]


def test_a_credential_over_plain_http_is_refused():
    with pytest.raises(ValueError, match="clear text"):
        GitRemote("http://ci:token@git.example/fleet.git")
    GitRemote("http://git.example/fleet.git")  # an anonymous http remote is fine
    GitRemote("http://ci:token@127.0.0.1:8080/fleet.git")  # nor does loopback send it over a network
