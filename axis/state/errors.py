"""The state DB's errors as users read them: one line naming the location (never its password),
the database's own words, and what to do.

Apart from the engine (`axis.state.db`), so that the commands that read the state through plain
DB-API (`axis.state.snapshot`) and the command line's error handling need no SQLAlchemy: a
failed sqlite3 or psycopg call is worded here the same whichever path made it.
"""

from __future__ import annotations

import errno
import re
from pathlib import Path

from axis.state.location import Location


class StateError(Exception):
    """The state DB cannot be opened or used; the message says which file, why, and what to do."""


#: What to do about each SQLite failure a user can meet, by its primary result code.
_SQLITE_HINTS = {
    "SQLITE_CORRUPT": "the state DB is damaged: restore it from a backup, or move it aside and run `axis apply` "
                      "to store the desired state again (leases and history are lost)",
    "SQLITE_NOTADB": "this file is not an axis state DB: check --state/AXIS_STATE, or move the file aside and run "
                     "`axis apply` to start a new one",
    "SQLITE_FULL": "the disk holding it is full: free space there and run the command again",
    "SQLITE_READONLY": "it cannot be written (a read-only file system, or no permission): point --state/AXIS_STATE "
                       "at a writable place, or remount it read-write",
    "SQLITE_CANTOPEN": "it cannot be opened (a missing directory, no permission, or a read-only file system): "
                       "point --state/AXIS_STATE at a writable place",
    "SQLITE_IOERR": "the disk reported an I/O error (a full or failing disk, or a read-only file system): check "
                    "the disk and run the command again",
    "SQLITE_BUSY": "another axis held its write lock for too long: run the command again",
    "SQLITE_PERM": "no permission to use it: check its owner and mode",
}


#: What to do about a PostgreSQL failure: its SQLSTATEs, or a pattern in libpq's words (a failed
#: connection has no SQLSTATE), and the hint.
_POSTGRES_HINTS = [
    ({"28P01", "28000"}, re.compile(r"password authentication failed|no password supplied"),
     "the server refused the login: check the user in the URL and its password (in the URL, PGPASSWORD "
     "or ~/.pgpass) and the server's pg_hba.conf"),
    ({"3D000"}, re.compile(r'database ".*" does not exist'),
     "the database does not exist: create it (`createdb NAME`, owned by the user axis logs in as) and run "
     "the command again"),
    (set(), re.compile(r"Connection refused|No such file or directory|could not translate host name|timeout expired|"
                       r"Network is unreachable|No route to host"),
     "cannot reach the server: is PostgreSQL running there? check the host and port in --state/AXIS_STATE "
     "(or ?host=/socket/dir for a unix socket)"),
    ({"55P03"}, re.compile(r"lock timeout"),
     "another axis held the write lock for too long (a paused or hung axis?): run the command again"),
    ({"42501"}, re.compile(r"^permission denied"),
     "the user lacks a permission on this database: grant it CREATE and USAGE on its schema, or use its owner"),
]


def db_error(location: Location, exc: BaseException) -> StateError:
    """A StateError for a failed database call: the location (never its password), the
    database's own words on one line, and what to do."""
    orig = getattr(exc, "orig", exc)
    words = " ".join(str(orig).split())
    if location.backend == "sqlite":
        code = getattr(orig, "sqlite_errorname", "") or ""
        hint = next((text for name, text in _SQLITE_HINTS.items() if code == name or code.startswith(name + "_")),
                    None)
    else:
        sqlstate = getattr(orig, "sqlstate", None) or ""
        hint = next((text for states, pattern, text in _POSTGRES_HINTS
                     if sqlstate in states or pattern.search(words)), None)
    return StateError(f"{location}: {words}" + (f"; {hint}" if hint else ""))


def os_error(path: Path, doing: str, exc: OSError) -> StateError:
    """A StateError for a failed file operation beside the state DB (its directory, a lock file)."""
    hints = {errno.EROFS: "the file system is read-only: point --state/AXIS_STATE at a writable place",
             errno.ENOSPC: "the disk is full: free space there and run the command again",
             errno.EDQUOT: "the disk quota is used up: free space there and run the command again",
             errno.EACCES: "no permission: check the owner and mode of its directory",
             errno.EPERM: "not permitted (an immutable file or directory?): check its attributes"}
    hint = hints.get(exc.errno or 0)
    return StateError(f"{path}: cannot {doing}: {exc.strerror or exc}" + (f"; {hint}" if hint else ""))
