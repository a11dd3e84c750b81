"""Who may see the dashboard: one-time login codes and the browser sessions they open.

The API's bearer token never goes in a URL a browser keeps (history, bookmarks, a screenshot of
the address bar): `axis serve` prints a link with a one-time code instead, as Jupyter does, and
the code is traded for a random session id in a cookie. Both live in the server process only: a
restart signs every browser out and the old link is dead, which is what one wants of a link that
was printed on a terminal. The token itself still signs in (`POST /login`, pasted into a form),
for a browser that comes after the link was used.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable

from axis.app.token import same_token

#: How long a printed login code may be used, and a session lasts, in seconds.
CODE_TTL = 10 * 60
SESSION_TTL = 12 * 60 * 60
#: At most this many live sessions; the oldest one is dropped to make room (a loop of logins with
#: the token cannot grow the server's memory without end).
MAX_SESSIONS = 1000


def cookie_name(port: int, *, tls: bool) -> str:
    """The session cookie's name for a dashboard the browser reaches on `port`: browsers keep
    cookies per host, not per port, so two `axis serve` on one machine (or two forwarded to one
    laptop's ports) would otherwise overwrite each other's cookie and sign each other out. Over
    TLS the `__Host-` prefix makes the browser refuse the cookie unless it is Secure, has Path=/
    and no Domain, so no other site or plain-HTTP page can plant or widen it."""
    name = f"axis_session_{port}"
    return f"__Host-{name}" if tls else name


class DashboardAuth:
    """Login codes (each usable once, for CODE_TTL) and sessions (SESSION_TTL), in memory.
    Thread-safe: the handlers of several requests may trade codes at once."""

    def __init__(self, token: str, *, clock: Callable[[], float] = time.monotonic):
        self._token = token
        self._clock = clock
        self._codes: dict[str, float] = {}  # code → expiry
        self._sessions: dict[str, float] = {}  # session id → expiry, oldest first
        self._lock = threading.Lock()

    def issue_code(self) -> str:
        """A fresh one-time login code (what `axis serve` prints in its link)."""
        code = secrets.token_urlsafe(32)
        with self._lock:
            self._codes[code] = self._clock() + CODE_TTL
        return code

    def redeem_code(self, code: str) -> str | None:
        """A new session id for a valid, unused, unexpired code, which is spent by this call;
        None otherwise (an unknown code spends nothing)."""
        with self._lock:
            expires = self._codes.pop(code, None)
            if expires is None or expires <= self._clock():
                return None
            return self._open()

    def redeem_token(self, given: str) -> str | None:
        """A new session id when `given` is the API token (compared in constant time), else None."""
        if not same_token(given, self._token):
            return None
        with self._lock:
            return self._open()

    def valid(self, session: str | None) -> bool:
        """Whether `session` (a cookie's value) is a live session of this server."""
        if not session:
            return False
        with self._lock:
            expires = self._sessions.get(session)
            if expires is None:
                return False
            if expires <= self._clock():
                del self._sessions[session]
                return False
            return True

    def forget(self, session: str | None) -> None:
        """End `session` (sign out); an unknown one is no error."""
        if session:
            with self._lock:
                self._sessions.pop(session, None)

    def _open(self) -> str:
        """A new session (the caller holds the lock); expired ones and the oldest past
        MAX_SESSIONS are dropped first."""
        now = self._clock()
        for old in [s for s, expires in self._sessions.items() if expires <= now]:
            del self._sessions[old]
        while len(self._sessions) >= MAX_SESSIONS:
            del self._sessions[next(iter(self._sessions))]
        session = secrets.token_urlsafe(32)
        self._sessions[session] = now + SESSION_TTL
        return session
