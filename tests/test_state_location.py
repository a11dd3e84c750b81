"""Where the state is: `--state`/`AXIS_STATE` as a SQLite path or a PostgreSQL URL, shown
without its password everywhere, and where each keeps its side files."""

from __future__ import annotations

from pathlib import Path

import pytest

from axis.state import Location, state_location


@pytest.mark.parametrize("given", ["postgresql://axis@db.lan/fleet", "postgres://axis@db.lan:5433/fleet",
                                   "postgresql+psycopg://axis@db.lan/fleet", "postgresql://axis@/fleet?host=/run/pg"])
def test_urls_are_postgresql(given: str):
    location = Location.of(given)
    assert location.backend == "postgresql" and location.path is None and location.url == given
    assert location.sqlalchemy_url.startswith("postgresql+psycopg://axis@")


def test_paths_are_sqlite_as_before(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("AXIS_STATE", raising=False)
    assert state_location() == Location(path=tmp_path / ".axis" / "state.db")
    assert state_location("~/s.db") == Location(path=tmp_path / "s.db")
    monkeypatch.setenv("AXIS_STATE", "postgresql://axis@db.lan/fleet")
    assert state_location().backend == "postgresql"
    assert state_location(tmp_path / "x.db").backend == "sqlite"  # --state wins over AXIS_STATE
    location = Location.of(tmp_path / "x.db")
    assert (str(location), location.sqlalchemy_url) == (str(tmp_path / "x.db"), f"sqlite:///{tmp_path}/x.db")
    # the side files axis always kept beside the file
    assert location.side_file("token") == tmp_path / "x.db.token"
    assert location.side_file("sources") == tmp_path / "x.db.sources"


def test_a_password_is_never_shown():
    location = Location.of("postgresql://axis:s3cr%40t@db.lan:5433/fleet?sslmode=require")
    assert str(location) == "postgresql://axis:***@db.lan:5433/fleet?sslmode=require"
    assert "s3cr" in location.sqlalchemy_url  # only the engine gets it
    assert "s3cr" not in repr(location)


@pytest.mark.parametrize(("given", "shown"), [
    ("postgresql://axis@db.lan/fleet?password=qsecret", "postgresql://axis@db.lan/fleet?password=***"),
    ("postgresql://axis@db.lan/fleet?sslmode=require&sslpassword=qsecret&host",
     "postgresql://axis@db.lan/fleet?sslmode=require&sslpassword=***&host"),
    ("postgresql://axis:qsecret@db.lan/fleet?Password=qsecret&pass%77ord=qsecret",
     "postgresql://axis:***@db.lan/fleet?Password=***&pass%77ord=***")])
def test_a_password_given_as_a_query_parameter_is_never_shown_either(given: str, shown: str):
    """Found in review: libpq takes `?password=` (and `sslpassword=`, the client key's) as well as
    the userinfo's; errors, repr, /health and the logs all show `str()`."""
    location = Location.of(given)
    assert str(location) == shown and "qsecret" not in repr(location)
    assert "qsecret" in location.sqlalchemy_url  # only the engine gets it


@pytest.mark.parametrize("given", ["postgresql://axis:qsecret@db.lan:abc/fleet", "postgresql://axis@db.lan:99999/fleet",
                                   "postgresql://axis@h1:5432,h2:5432/fleet"])
def test_a_bad_port_or_a_host_list_in_the_netloc_is_refused_saying_how_to_write_it(given: str):
    """Found in review: these were an "internal error: ValueError" from the engine; libpq's list of
    hosts is written in the query, which psycopg takes as it is."""
    with pytest.raises(ValueError, match=r"the port is not a number .*\?host=h1,h2&port=p1,p2") as refused:
        Location.of(given)
    assert "qsecret" not in str(refused.value)
    assert Location.of("postgresql://axis@/fleet?host=h1,h2&port=5432,5433").side_dir.name == "h1-h2_5432-5433_fleet"


def test_a_url_without_a_database_is_refused():
    with pytest.raises(ValueError, match="names no database"):
        Location.of("postgresql://axis@db.lan/")


def test_postgresql_side_files_live_under_the_home_one_dir_per_database(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("PGHOST", raising=False)
    assert Location.of("postgresql://axis@db.lan/fleet").side_dir == tmp_path / ".axis" / "pg" / "db.lan_5432_fleet"
    assert Location.of("postgresql://a:pw@db.lan:5433/fleet").side_file("token") == (
        tmp_path / ".axis" / "pg" / "db.lan_5433_fleet" / "token")
    assert Location.of("postgresql://axis@/fleet?host=/run/pg").side_dir.name == "run-pg_5432_fleet"


@pytest.mark.parametrize("given", ["sqlite:///tmp/s.db", "mysql://axis@db.lan/fleet"])
def test_another_kind_of_url_is_refused_not_taken_for_a_file_name(given: str):
    with pytest.raises(ValueError, match="is not a state DB axis can use"):
        Location.of(given)
