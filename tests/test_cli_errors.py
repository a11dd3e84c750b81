"""Errors users can act on (issue 16, item 7): every CLI failure about the state DB or its
directory is one line naming the file and what to do, made with real damaged files and real
read-only and full file systems (we run as root, so modes would not stop us: a read-only bind
mount and a small tmpfs do)."""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.legacydb import legacy_state_db

HOST = "apiVersion: axis/v1\nkind: Host\nmetadata: {{name: h{i}}}\nspec: {{address: h{i}.lan, description: {text}}}\n"


def _write_hosts(root: Path, count: int, text: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (root / f"h{i}.yaml").write_text(HOST.format(i=i, text=text))
    return root


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "internal error" not in lines[0] and "Traceback" not in err, err
    return lines[0]


@contextlib.contextmanager
def _mounted(*args: str) -> Iterator[None]:
    """`mount ARGS`, undone afterwards; skipped where this kernel or container refuses mounts."""
    target = args[-1]
    done = subprocess.run(["mount", *args], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount here: {done.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", target], check=False)


@pytest.mark.sqlite_only("writes garbage into the SQLite file")
def test_a_file_that_is_not_a_database(axis, state_db: Path | str):
    state_db.parent.mkdir(parents=True)
    state_db.write_bytes(b"not sqlite at all " * 100)
    line = _one_line(axis("get", "hosts").err)
    assert line.startswith(f"error: {state_db}: file is not a database")
    assert "move the file aside" in line


@pytest.mark.sqlite_only("damages the SQLite file's pages")
def test_a_damaged_page(axis, tmp_path: Path, state_db: Path | str):
    assert axis("apply", "--no-converge", "-f", str(_write_hosts(tmp_path / "specs", 30, "x" * 200))).code == 0
    db = sqlite3.connect(state_db)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    data = bytearray(state_db.read_bytes())
    for offset in range(4096, len(data), 4096):  # every page but the header's
        data[offset:offset + 256] = b"\xa5" * 256
    state_db.write_bytes(bytes(data))
    result = axis("get", "hosts")
    assert result.code == 1
    line = _one_line(result.err)
    assert line.startswith(f"error: {state_db}: database disk image is malformed")
    assert "restore it from a backup" in line


@pytest.mark.sqlite_only("the legacy schema_version row of a SQLite file")
@pytest.mark.parametrize("value,says", [("abc", "its schema_version is 'abc'"), ("-3", "its schema_version is '-3'"),
                                        ("999", "schema version 999, newer than this axis")])
def test_a_bad_schema_version(axis, state_db: Path, value: str, says: str, monkeypatch: pytest.MonkeyPatch):
    """A file from before Alembic (legacy schema 7, as the frozen migrator makes it) whose
    version is not one axis wrote."""
    state_db.parent.mkdir(parents=True)
    legacy_state_db(state_db, 7, monkeypatch)
    db = sqlite3.connect(state_db)
    db.execute("UPDATE axis_meta SET value=? WHERE key='schema_version'", (value,))
    db.commit()
    db.close()
    line = _one_line(axis("get", "hosts").err)
    assert line.startswith(f"error: {state_db}: ") and says in line
    assert "upgrade axis" in line or "restore it from a backup" in line


@pytest.mark.sqlite_only("edits the SQLite file with sqlite3 (tests/test_state_pg.py does it on PostgreSQL)")
@pytest.mark.parametrize("value", ["abc", "9999"])
def test_an_unknown_alembic_revision(axis, state_db: Path, value: str):
    assert axis("get", "hosts").code == 0  # creates the DB
    db = sqlite3.connect(state_db)
    db.execute("UPDATE alembic_version SET version_num=?", (value,))
    db.commit()
    db.close()
    line = _one_line(axis("get", "hosts").err)
    assert line.startswith(f"error: {state_db}: the state DB has schema version {value!r}, newer than this axis")
    assert "upgrade axis" in line and "restore it from a backup" in line


@pytest.mark.sqlite_only("a SQLite file and its lock files on a read-only file system")
def test_a_read_only_file_system(axis, tmp_path: Path):
    writable, readonly = tmp_path / "rw", tmp_path / "ro"
    readonly.mkdir()
    specs = _write_hosts(tmp_path / "specs", 2, "kept")
    from axis.main import run
    assert run(["--state", str(writable / "s.db"), "apply", "--no-converge", "-f", str(specs)]) == 0
    with _mounted("--bind", str(writable), str(readonly)):
        done = subprocess.run(["mount", "-o", "remount,ro,bind", str(readonly)], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        apply = axis("--state", str(readonly / "s.db"), "apply", "--no-converge", "-f", str(specs))
        line = _one_line(apply.err)
        assert line == (f"error: {readonly}/s.db.apply.lock: cannot open the lock file: Read-only file system; "
                        "the file system is read-only: point --state/AXIS_STATE at a writable place")
        fresh = _one_line(axis("--state", str(readonly / "new.db"), "get", "hosts").err)
        assert fresh.startswith(f"error: {readonly}/new.db: unable to open database file") and "read-only" in fresh


@pytest.mark.sqlite_only("a SQLite file on a full disk")
def test_a_full_disk(axis, tmp_path: Path):
    disk = tmp_path / "disk"
    disk.mkdir()
    with _mounted("-t", "tmpfs", "-o", "size=256k", "tmpfs", str(disk)):
        state = disk / "s.db"
        assert axis("--state", str(state), "apply", "--no-converge",
                    "-f", str(_write_hosts(tmp_path / "a", 5, "small"))).code == 0
        with contextlib.suppress(OSError), (disk / "filler").open("wb") as filler:
            while True:
                filler.write(b"\0" * 4096)
                filler.flush()
        result = axis("--state", str(state), "apply", "--no-converge",
                      "-f", str(_write_hosts(tmp_path / "b", 40, "y" * 2000)))
        assert result.code == 1
        line = _one_line(result.err)
        # SQLite's SQLITE_FULL, or ENOSPC on the lock file's pid: both name the file and say "free space"
        assert line.startswith(f"error: {state}") and "full" in line and "free space" in line, line


@pytest.mark.parametrize("task", ["", "   "])
def test_place_with_an_empty_task(axis, task: str):
    result = axis("place", task)
    assert result.code == 1
    line = _one_line(result.err)
    assert line.startswith(f"error: invalid task {task!r}") and 'e.g. axis place "' in line


def test_get_of_an_unknown_kind_lists_every_accepted_word(axis):
    assert _one_line(axis("get", "bogus").err) == (
        "error: unknown resource type 'bogus' (use hosts, profiles, claims, leases, events, sources, controller or "
        "controllers)")
    assert _one_line(axis("describe", "bogus", "x").err) == (
        "error: unknown resource type 'bogus' (use host, profile, claim, source or controller)")
    for word in ("hosts", "profiles", "claims", "leases", "events", "sources", "controller"):  # and each listed word works
        assert axis("get", word).code == 0, word


@pytest.mark.parametrize("given", ["postgresql://axis:qsecret@db.lan:abc/fleet", "postgresql://axis@h1:5432,h2:5432/fleet"])
def test_a_state_url_with_a_bad_port_is_a_usage_error_naming_where_it_came_from(
        given: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    """Found in review: a bad port, or libpq's host list in the netloc, was "internal error:
    ValueError"; from --state or from AXIS_STATE alike, it is a usage error (status 2) that says how
    to write several hosts and shows no password."""
    from axis.main import run
    for args, env in ((["--state", given], None), ([], given)):
        if env is None:
            monkeypatch.delenv("AXIS_STATE", raising=False)
        else:
            monkeypatch.setenv("AXIS_STATE", env)
        capsys.readouterr()
        assert run([*args, "get", "hosts"]) == 2
        err = capsys.readouterr().err
        error = [line for line in err.splitlines() if line.startswith("Error:")]
        assert len(error) == 1 and "internal error" not in err and "qsecret" not in err, err
        assert error[0].startswith("Error: Invalid value for --state/AXIS_STATE: postgresql://axis")
        assert "the port is not a number" in error[0] and "?host=h1,h2&port=p1,p2" in error[0]


def test_a_password_given_in_the_url_query_is_not_shown_in_errors(capsys: pytest.CaptureFixture[str],
                                                                    monkeypatch: pytest.MonkeyPatch):
    """Found in review: `?password=` was shown whole in the connection error."""
    from axis.main import run
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.delenv("AXIS_STATE", raising=False)
    capsys.readouterr()
    assert run(["--state", f"postgresql://axis@127.0.0.1:{port}/fleet?password=qsecret&sslpassword=qsecret",
                "get", "hosts"]) == 1
    line = _one_line(capsys.readouterr().err)
    assert line.startswith(f"error: postgresql://axis@127.0.0.1:{port}/fleet?password=***&sslpassword=***: ")
    assert "qsecret" not in line and "is PostgreSQL running there?" in line
