"""The stores the benchmarks run on: SQLite always, and PostgreSQL in a database of its own when
SHOPFLOOR_TEST_PG names a server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text

from shopfloor.store.db import resolve_url


def pg_server() -> str | None:
    return os.environ.get("SHOPFLOOR_TEST_PG") or None


@contextmanager
def pg_database(base: str) -> Iterator[str]:
    """A new, empty database on the server of ``base`` (dropped afterwards): its SQLAlchemy URL."""
    name = f"shopfloor_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(resolve_url(base), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield resolve_url(base).rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
