"""axis's schema revisions (Alembic): `env.py` and `versions/`, run by `axis.state.schema` on the
caller's connection. Package data: a wheel ships them, and no alembic.ini is needed at run time.

A new revision: a file in `versions/` whose `down_revision` is the newest one, its `upgrade()`
written for both dialects (batch operations on SQLite), and `axis.state.schema.HEAD` moved to it
(a test checks they agree, and another that the table models match what the revisions make).
"""
