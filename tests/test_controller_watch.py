"""The controller's file watch keeps hearing edits after the watched path is renamed over.

inotify watches an inode: after `rename(tmp, fleet.yaml)` (an editor's atomic save) or
`rename(specs.new, specs)` (a deploy swapping a spec directory in) a watch on the old inode
reported the delete once and then nothing, while the path still existed, so the controller stayed
Ready and deaf. These tests use the real watchfiles, as `axis controller --watch` does.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from axis.reconcile import spec_watch
from tests.conftest import HOST
from tests.test_controller_supervise import Running, _condition, _events, _hosts, _until


@pytest.fixture(autouse=True)
def quick_ticks(monkeypatch: pytest.MonkeyPatch) -> None:
    """A quiet tick every 0.2 s (1 s in production) and a short debounce, so a test waits less."""
    monkeypatch.setattr(spec_watch, "WATCH_TICK_MS", 200)
    monkeypatch.setattr(spec_watch, "DEBOUNCE_MS", 400)


def _save_atomically(path: Path, text: str) -> None:
    """What editors do: write a temp file beside `path`, then rename it over `path`."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.rename(tmp, path)


async def _watching(state: Path | str, watch: Path) -> Running:
    """A controller on `watch`, started and given 0.6 s after its watcher's first report, so
    that the file watch is set up before a test renames anything."""
    run = Running(state, watch)
    run.start()
    await _until(lambda: _condition(run.db, "SpecWatcher") is not None, "the watcher's condition")
    await asyncio.sleep(0.6)
    return run


def _healthy(run: Running) -> None:
    assert _condition(run.db, "Ready").status == "True"
    assert _condition(run.db, "SpecWatcher").status == "True"
    assert not _events(run.db, "InternalError") and not _events(run.db, "WatchPathMissing")


def test_a_watched_file_saved_atomically_twice_then_edited_is_applied_every_time(tmp_path: Path, state_db: Path | str) -> None:
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(HOST.format(name="a"))

    async def scenario() -> list[str]:
        run = await _watching(state_db, fleet)
        _save_atomically(fleet, HOST.format(name="first-save"))
        await _until(lambda: _hosts(run.db) == ["first-save"], "the first atomic save")
        _save_atomically(fleet, HOST.format(name="second-save"))
        await _until(lambda: _hosts(run.db) == ["second-save"], "the second atomic save")
        fleet.write_text(HOST.format(name="edited"))  # in place, on the latest inode
        await _until(lambda: _hosts(run.db) == ["edited"], "the in-place edit")
        _healthy(run)
        return await run.stop()

    assert asyncio.run(scenario()) == []


def test_a_spec_file_beside_the_watched_file_is_not_applied(tmp_path: Path, state_db: Path | str,
                                                            controller_lines: list[str]) -> None:
    """The single file is watched through its parent directory, filtered to its name: another
    file there is neither read nor a reason to re-read."""
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(HOST.format(name="a"))

    async def scenario() -> list[str]:
        run = await _watching(state_db, fleet)
        applies = len(controller_lines)
        (tmp_path / "other.yaml").write_text(HOST.format(name="other"))
        await asyncio.sleep(1.5)
        assert _hosts(run.db) == ["a"] and len(controller_lines) == applies
        _save_atomically(fleet, HOST.format(name="b"))
        await _until(lambda: _hosts(run.db) == ["b"], "the watched file's save")
        return await run.stop()

    assert asyncio.run(scenario()) == []


def test_a_swapped_in_spec_directory_is_watched_and_its_edits_applied(tmp_path: Path, state_db: Path | str, specs) -> None:
    watch = specs({"h.yaml": HOST.format(name="a")}, name="specs")

    async def scenario() -> list[str]:
        run = await _watching(state_db, watch)
        new = specs({"h.yaml": HOST.format(name="swapped")}, name="specs.new")
        os.rename(watch, tmp_path / "specs.old")
        os.rename(new, watch)
        await _until(lambda: _hosts(run.db) == ["swapped"], "the swapped-in directory")
        await _until(lambda: _events(run.db, "WatchRestarted"), "the watch's restart")
        await asyncio.sleep(1.0)  # well after the restart, as an operator's later edit
        (watch / "h.yaml").write_text(HOST.format(name="edited-in-new"))
        await _until(lambda: _hosts(run.db) == ["edited-in-new"], "an edit in the new directory")
        (event,) = _events(run.db, "WatchRestarted")
        assert event.type == "Normal" and "was replaced" in event.message
        _healthy(run)
        assert not _events(run.db, "Recovered")  # nothing failed, so nothing recovered
        return await run.stop()

    assert asyncio.run(scenario()) == []


def test_a_symlinked_spec_file_is_watched_where_it_lives_and_followed_when_the_link_moves(tmp_path: Path,
                                                                                         state_db: Path | str) -> None:
    """`--watch fleet.yaml` where fleet.yaml links into a checkout: edits happen to the file the
    link points to (another directory), and re-pointing the link is a replaced path."""
    real, other = tmp_path / "checkout-a", tmp_path / "checkout-b"
    real.mkdir()
    other.mkdir()
    (real / "fleet.yaml").write_text(HOST.format(name="a"))
    (other / "fleet.yaml").write_text(HOST.format(name="b"))
    link = tmp_path / "fleet.yaml"
    link.symlink_to(real / "fleet.yaml")

    async def scenario() -> list[str]:
        run = await _watching(state_db, link)
        (real / "fleet.yaml").write_text(HOST.format(name="edited-in-place"))
        await _until(lambda: _hosts(run.db) == ["edited-in-place"], "the edit of the linked file")
        moved = tmp_path / ".fleet.yaml.new"
        moved.symlink_to(other / "fleet.yaml")
        os.rename(moved, link)  # `ln -sfn`: the link now points into the other checkout
        # (the apply set is the resolved path, so what the old target stored is not pruned here)
        await _until(lambda: "b" in _hosts(run.db), "the re-pointed link")
        (other / "fleet.yaml").write_text(HOST.format(name="edited-there"))
        await _until(lambda: "edited-there" in _hosts(run.db), "an edit in the new checkout")
        assert not _events(run.db, "InternalError")
        return await run.stop()

    assert asyncio.run(scenario()) == []
