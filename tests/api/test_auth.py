"""Signing in, sessions, CSRF, tokens, throttling and problem+json errors."""

import pytest
from fastapi.testclient import TestClient

from tests.conftest import PASSWORD


def test_password_login_sets_an_httponly_session_cookie_and_returns_a_csrf_token(anonymous):
    r = anonymous.post("/api/v1/auth/login", json={"username": "supervisor", "password": PASSWORD})
    assert r.status_code == 200
    assert r.json()["role"] == "supervisor" and len(r.json()["csrf_token"]) > 20
    cookie = r.headers["set-cookie"]
    assert "sf_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert anonymous.get("/api/v1/auth/me").json()["username"] == "supervisor"


def test_operator_signs_in_with_badge_and_pin(anonymous):
    r = anonymous.post("/api/v1/auth/pin", json={"who": "B-1001", "pin": "4821"})
    assert r.status_code == 200 and r.json()["language"] == "vi"
    assert anonymous.post("/api/v1/auth/pin", json={"who": "B-1001", "pin": "0000"}).status_code == 401


def test_wrong_password_is_a_problem_document(anonymous):
    r = anonymous.post("/api/v1/auth/login", json={"username": "admin", "password": "nope"})
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["title"] == "Not signed in" and r.json()["status"] == 401


def test_a_session_token_planted_before_sign_in_is_replaced(app):
    client = TestClient(app)
    client.cookies.set("sf_session", "attacker-chosen")
    r = client.post("/api/v1/auth/login", json={"username": "admin", "password": PASSWORD})
    assert "attacker-chosen" not in r.headers["set-cookie"]


def test_changes_with_a_session_need_the_csrf_token(app, as_role):
    client = as_role("admin")
    csrf = client.headers.pop("X-CSRF-Token")
    body = {"username": "new-op", "role": "operator", "pin": "1234"}
    r = client.post("/api/v1/users", json=body)
    assert r.status_code == 403 and "CSRF" in r.json()["detail"]
    r = client.post("/api/v1/users", json=body, headers={"X-CSRF-Token": "wrong"})
    assert r.status_code == 403
    r = client.post("/api/v1/users", json=body, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201


def test_logout_ends_the_session(as_role):
    client = as_role("quality")
    assert client.post("/api/v1/auth/logout").status_code == 204
    assert client.get("/api/v1/auth/me").status_code == 401


def test_api_tokens_need_no_csrf_and_stop_working_when_unknown(app, as_role):
    admin = as_role("admin")
    token = admin.post("/api/v1/tokens", json={"username": "supervisor", "name": "gateway"}).json()["token"]
    script = TestClient(app, headers={"Authorization": f"Bearer {token}"})
    r = script.post(
        "/api/v1/events",
        json=[{"ts": "2026-03-02T06:00:00+09:00", "machine": "WLD-01", "event": "state", "state": "running"}],
    )
    assert r.status_code == 200 and r.json()["inserted"] == 1
    bad = TestClient(app, headers={"Authorization": "Bearer sf_forged"})
    assert bad.get("/api/v1/machines").status_code == 401


def test_five_failed_sign_ins_are_throttled(anonymous):
    for _ in range(5):
        assert anonymous.post("/api/v1/auth/login", json={"username": "admin", "password": "x"}).status_code == 401
    r = anonymous.post("/api/v1/auth/login", json={"username": "admin", "password": PASSWORD})
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0


def test_security_headers_on_every_response(anonymous):
    r = anonymous.get("/healthz")
    assert r.status_code == 200
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert "default-src 'self'" in r.headers["content-security-policy"]


@pytest.mark.parametrize("body", [{}, {"username": "", "password": "x"}, {"username": "a"}])
def test_malformed_login_bodies_are_422_problems(anonymous, body):
    r = anonymous.post("/api/v1/auth/login", json=body)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"


def test_tokens_are_listed_without_secrets_and_revoked_at_once(app, as_role):
    admin = as_role("admin")
    token = admin.post("/api/v1/tokens", json={"username": "supervisor", "name": "gateway"}).json()["token"]
    listed = admin.get("/api/v1/tokens").json()
    assert listed[0]["name"] == "gateway" and token not in str(listed)
    script = TestClient(app, headers={"Authorization": f"Bearer {token}"})
    assert script.get("/api/v1/machines").status_code == 200
    assert admin.delete(f"/api/v1/tokens/{listed[0]['id']}").status_code == 204
    assert script.get("/api/v1/machines").status_code == 401
    assert admin.delete(f"/api/v1/tokens/{listed[0]['id']}").status_code == 404
