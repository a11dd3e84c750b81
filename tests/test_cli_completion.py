"""Shell completion: `axis completion bash|zsh|fish` prints the script, and the answers those
scripts ask for (`_AXIS_COMPLETE`) name commands, resource words and the hosts, profiles and
claims in the state DB, light (tests/test_cli_startup.py) and silent: no DB, no names, no error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.backend import on_postgresql

SPECS = """apiVersion: axis/v1
kind: Host
metadata: {name: box}
spec: {address: 192.0.2.1}
---
apiVersion: axis/v1
kind: Host
metadata: {name: bench}
spec: {address: 192.0.2.2, fanout: false}
---
apiVersion: axis/v1
kind: HostProfile
metadata: {name: base}
spec: {features: {earlyoom: {}}}
---
apiVersion: axis/v1
kind: Claim
metadata: {name: job}
spec: {task: make -j8 build}
"""


def _complete(shell: str, line: str, state: str | None = None) -> subprocess.CompletedProcess[str]:
    """What `shell` gets for a <TAB> at the end of `line`, as its completion script asks."""
    env = {k: v for k, v in os.environ.items() if k != "AXIS_STATE"} | {"_AXIS_COMPLETE": f"complete_{shell}"}
    if state is not None:
        env["AXIS_STATE"] = state
    if shell == "bash":
        env |= {"COMP_WORDS": line, "COMP_CWORD": str(len(line.split()) - (0 if line.endswith(" ") else 1))}
    else:
        env |= {"_TYPER_COMPLETE_ARGS": line, "_TYPER_COMPLETE_FISH_ACTION": "get-args"}
    return subprocess.run([sys.executable, "-m", "axis"], capture_output=True, text=True, env=env, timeout=60)


@pytest.fixture
def stored(tmp_path: Path, state_db: Path | str) -> str:
    spec = tmp_path / "all.yaml"
    spec.write_text(SPECS)
    subprocess.run([sys.executable, "-m", "axis", "--state", str(state_db), "apply", "--no-converge", "-f", str(spec)],
                   capture_output=True, check=True)
    return str(state_db)


def test_bash_completes_names_from_the_state_db(stored: str) -> None:
    def words(line: str) -> list[str]:
        done = _complete("bash", line, stored)
        assert (done.returncode, done.stderr) == (0, ""), done.stderr
        return done.stdout.split()

    assert words("axis describe host ") == ["bench", "box"]
    assert words("axis describe host bo") == ["box"]
    assert words("axis get profiles ") == ["base"]
    assert words("axis delete claim ") == ["job"]
    assert words("axis on ") == ["all", "bench", "box"]
    assert words("axis clean b") == ["bench", "box"]
    assert words("axis exec ") == words("axis logs ") == words("axis renew j") == ["job"]
    assert words("axis get pro") == ["profile", "profiles"]
    assert "describe" in words("axis de") and "completion" in words("axis comp")
    assert words(f"axis --state {stored} --debug describe claim ") == ["job"]  # root options before the command


def test_zsh_and_fish_complete_names_too(stored: str) -> None:
    zsh = _complete("zsh", "axis describe host ", stored)
    assert zsh.returncode == 0 and '"bench"' in zsh.stdout and '"box"' in zsh.stdout, zsh.stderr
    fish = _complete("fish", "axis exec ", stored)
    assert (fish.returncode, fish.stdout.split()) == (0, ["job"]), fish.stderr


def test_names_the_specs_refuse_are_never_offered(stored: str, tmp_path: Path) -> None:
    # zsh evaluates the words it is handed: a name written by other means than `axis apply` (a
    # shared server, a copied file) must not run a command on <TAB>
    from axis.state.dbapi import connect
    from axis.state.location import state_location

    conn = connect(state_location(stored))
    try:
        conn.execute(f"UPDATE objects SET name = 'b$(touch {tmp_path}/pwned)' WHERE name = 'bench'")
        conn.commit()
    finally:
        conn.close()
    for shell in ("bash", "zsh", "fish"):
        done = _complete(shell, "axis describe host ", stored)
        assert done.returncode == 0 and "box" in done.stdout, (shell, done.stderr)
        assert "pwned" not in done.stdout and "$(" not in done.stdout, (shell, done.stdout)


def test_no_db_no_names_and_no_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "state.db"
    for shell in ("bash", "zsh", "fish"):
        done = _complete(shell, "axis describe host ", str(missing))
        assert (done.returncode, done.stderr) == (0, ""), (shell, done.stderr)
        assert "box" not in done.stdout
    assert not missing.parent.exists()  # completing never creates a state DB
    bad = _complete("bash", "axis on ", "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")
    assert (bad.returncode, bad.stdout.split(), bad.stderr) == (0, ["all"], "")


def test_a_server_that_does_not_answer_holds_a_tab_for_seconds_only(monkeypatch: pytest.MonkeyPatch) -> None:
    # the kernel accepts the connection, nobody speaks: libpq waits for connect_timeout (10 s for
    # commands); completion's is CONNECT_TIMEOUT_S, whatever the URL says (psycopg's keyword
    # arguments override the URL's): asked of the driver here, no clock in a unit test
    import socket
    from types import SimpleNamespace

    import psycopg

    from axis.cli import completion

    with socket.socket() as mute:
        mute.bind(("127.0.0.1", 0))
        mute.listen(8)
        url = f"postgresql://nobody@127.0.0.1:{mute.getsockname()[1]}/none?connect_timeout=30"
        done = _complete("bash", "axis on ", url)  # the real <TAB>: answered, silent
        assert (done.returncode, done.stdout.split(), done.stderr) == (0, ["all"], "")

        asked: list[object] = []

        def connect(conninfo: str, **kwargs: object) -> None:
            asked.append(kwargs.get("connect_timeout"))
            raise psycopg.OperationalError("timeout expired")

        monkeypatch.setattr(psycopg, "connect", connect)
        ctx = SimpleNamespace(find_root=lambda: SimpleNamespace(params={"state": url}))
        assert completion.host_names(ctx, "") == []  # type: ignore[arg-type]
    assert asked == [completion.CONNECT_TIMEOUT_S] and completion.CONNECT_TIMEOUT_S <= 2


def test_version_offers_no_completion() -> None:
    # --version is eager: it ran while completing and its line came back as the <TAB>'s words
    done = _complete("bash", "axis --version ")
    assert (done.returncode, done.stderr) == (0, "") and "axis" not in done.stdout.split(), done.stdout


def test_an_empty_complete_variable_is_no_tab(capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # `_AXIS_COMPLETE=` (set, empty) made every command answer as a <TAB> with no command registered
    from axis.cli.main import run

    monkeypatch.setenv("_AXIS_COMPLETE", "")
    assert run(["completion", "bash"]) == 0
    assert "_AXIS_COMPLETE=complete_bash" in capsys.readouterr().out


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_prints_each_shells_script(shell: str, capsys: pytest.CaptureFixture[str]) -> None:
    from axis.cli.main import run

    assert run(["completion", shell]) == 0
    script = capsys.readouterr().out
    assert "_AXIS_COMPLETE=complete_" + shell in script and "axis" in script
    assert run(["completion", "tcsh"]) == 2


def test_completion_loads_no_orm_nor_ssh(stored: str) -> None:
    probe = ("import sys\nfrom axis.main import run\ntry:\n    run(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
             "print('LOADED', ' '.join(sorted({m.split('.')[0] for m in sys.modules} & "
             "{'sqlalchemy', 'sqlmodel', 'alembic', 'asyncssh', 'asyncio'})))")
    env = dict(os.environ, AXIS_STATE=stored, _AXIS_COMPLETE="complete_bash", COMP_WORDS="axis describe host ",
               COMP_CWORD="3")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True)
    assert done.stdout.split()[:2] == ["bench", "box"], done.stderr
    loaded = done.stdout.splitlines()[-1].split()[1:]
    if on_postgresql():  # psycopg, which reads it, imports asyncio
        loaded = [m for m in loaded if m != "asyncio"]
    assert loaded == []
