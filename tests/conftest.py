"""Shared fixtures: a store on every backend (SQLite file, and the real PostgreSQL server when configured).

PostgreSQL tests read SHOPFLOOR_TEST_PG (e.g. postgresql://postgres@127.0.0.1:5432/test).  Each test run
creates its own database on that server and drops it at the end, so runs never see each other's rows.
When SHOPFLOOR_TEST_PG is unset the PostgreSQL variants skip, unless SHOPFLOOR_REQUIRE_SERVICES=1, where
they fail.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

# Accounts made by tests use argon2's cheapest profile; set before shopfloor.store.accounts is imported.
os.environ.setdefault("SHOPFLOOR_ARGON2_PROFILE", "cheapest")

from shopfloor.store.db import open_engine, open_store, resolve_url
from shopfloor.store.schema import metadata

REPO = Path(__file__).resolve().parent.parent
REFERENCE = REPO.parent / "shared" / "reference"


def require_service(env: str, what: str) -> str:
    """The URL of a real service from ``env``; skip (or fail under SHOPFLOOR_REQUIRE_SERVICES=1) without it."""
    url = os.environ.get(env)
    if not url:
        message = f"{what} not configured: set {env} to run this test against the real server"
        if os.environ.get("SHOPFLOOR_REQUIRE_SERVICES") == "1":
            pytest.fail(message + " (SHOPFLOOR_REQUIRE_SERVICES=1)")
        pytest.skip(message)
    return url


@pytest.fixture(scope="session")
def pg_url():
    base = require_service("SHOPFLOOR_TEST_PG", "PostgreSQL")
    name = f"shopfloor_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(resolve_url(base), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = resolve_url(base).rsplit("/", 1)[0] + f"/{name}"
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def pg_engine(pg_url):
    engine = open_store(pg_url)
    yield engine
    engine.dispose()


def _truncate_pg(engine) -> None:
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def engine(request, tmp_path):
    """An empty, migrated store on each backend."""
    if request.param == "sqlite":
        eng = open_store(str(tmp_path / "store.db"))
        yield eng
        eng.dispose()
    else:
        eng = request.getfixturevalue("pg_engine")
        _truncate_pg(eng)
        yield eng


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return str(tmp_path / "cli.db")


@pytest.fixture
def raw_sqlite_engine(tmp_path):
    """An SQLite engine without migrations (for migration tests)."""
    eng = open_engine(str(tmp_path / "raw.db"))
    yield eng
    eng.dispose()
