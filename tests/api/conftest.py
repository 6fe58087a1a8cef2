"""An application on each store with the sample plant and one user per role."""

import pytest
from fastapi.testclient import TestClient

from shopfloor.actions.demo import sample_plant
from shopfloor.api.app import Settings, create_app
from shopfloor.store import accounts
from shopfloor.store.plant import save_plant

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
