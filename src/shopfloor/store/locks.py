"""Named locks held until the end of the transaction, for a check-then-insert on something that has no row to lock
yet (a new code, an idempotency key, a user name).

Concurrent writers of the same name take turns: the second one checks after the first has committed, so it gets
the answer a user expects (the code exists already, the first request's result, the next free number) instead of
a unique violation.  PostgreSQL advisory locks; SQLite lets one writer in at a time, so nothing is needed there.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))")


def lock_name(conn: Connection, kind: str, *parts: str) -> None:
    """Hold the lock of ``kind`` + ``parts`` (e.g. ``"work_order", "WO-1"``) until the transaction ends."""
    if conn.dialect.name == "postgresql":
        conn.execute(_LOCK, {"name": "\x1f".join((kind, *parts))})
