"""The read-only web dashboard of `axis serve`: server-rendered pages of the fleet and of each
host, kept live by polling HTML fragments, behind one-time login links and session cookies.
Loaded only by `axis serve` (Jinja2 is imported by `render`), never by the reading commands."""
