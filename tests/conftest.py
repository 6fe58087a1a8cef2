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
from argon2 import PasswordHasher, profiles
from fastapi.testclient import TestClient
from hypothesis import settings
from sqlalchemy import create_engine, text

from shopfloor.actions.demo import sample_plant
from shopfloor.app import create_app
from shopfloor.settings import Settings
from shopfloor.store import accounts
from shopfloor.store.db import open_engine, open_store, resolve_url
from shopfloor.store.plant import save_plant
from shopfloor.store.schema import metadata

# A mutation run (`mutmut run`, see pyproject.toml) reruns the covering tests once per mutant: it asks for fewer
# generated examples with HYPOTHESIS_PROFILE=mutation.  The default profile is hypothesis's own.
settings.register_profile("mutation", max_examples=25, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

REPO = Path(__file__).resolve().parent.parent
# Published worked examples and specification samples the tests read, each with its source in SOURCES.md.
DATA = REPO / "tests" / "data"


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing():
    """Accounts made in this process (tests create thousands) are hashed with argon2's cheapest profile.  Servers
    the tests start as processes hash as a deployed server does."""
    previous = accounts.use_hasher(PasswordHasher.from_parameters(profiles.CHEAPEST))
    yield
    accounts.use_hasher(previous)


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
    admin = create_engine(resolve_url(base), isolation_level="AUTOCOMMIT", pool_pre_ping=True)
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


# -- an application on each store, with the sample plant and one user per role ------------------------------
PASSWORD = "test-password-123"
ROLES = ("operator", "supervisor", "quality", "manager", "admin")


@pytest.fixture
def app(engine):
    with engine.begin() as conn:
        save_plant(conn, sample_plant(), "test")
        for role in ROLES:
            accounts.create_user(conn, role, role, password=PASSWORD)
        accounts.create_user(conn, "op-pin", "operator", pin="4821", badge="B-1001", language="vi")
    return create_app(Settings(), engine=engine)


@pytest.fixture
def anonymous(app):
    return TestClient(app)


def signed_in(app, role: str) -> TestClient:
    client = TestClient(app)
    r = client.post("/api/v1/auth/login", json={"username": role, "password": PASSWORD})
    assert r.status_code == 200, r.text
    client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return client


@pytest.fixture
def as_role(app):
    return lambda role: signed_in(app, role)


@pytest.fixture
def live_server(app):
    """The application served by uvicorn on a free loopback port, in a thread; yields its base URL."""
    import socket
    import threading
    import time

    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


# -- the rollups a KPI query reads ----------------------------------------------------------------------------
@pytest.fixture(params=["hourly", "coarse"])
def rollup_units(request, monkeypatch):
    """Every KPI test runs twice: reading hourly rollups only, and the coarsest of local months, days and hours."""
    from shopfloor.store import kpi, rollups

    monkeypatch.setattr(kpi, "COVER_UNITS", ("hour",) if request.param == "hourly" else rollups.UNITS)
    return request.param
