"""Administrators manage users through the API and the admin page: change, deactivate (sessions and tokens stop
at once), new password or PIN, sign out everywhere; refusals in the asker's language, others' roles refused."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from shopfloor.errors import CannotDeactivateSelf, PinOnlyForOperators
from shopfloor.i18n import error_message
from tests.conftest import PASSWORD, signed_in


def _operator_session(app) -> TestClient:
    client = TestClient(app)
    r = client.post("/api/v1/auth/pin", json={"who": "B-1001", "pin": "4821"})
    assert r.status_code == 200, r.text
    client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return client


def test_a_deactivated_user_is_out_at_once_session_and_token(app, as_role):
    admin = as_role("admin")
    operator = _operator_session(app)
    token = admin.post("/api/v1/tokens", json={"username": "op-pin", "name": "scanner"}).json()["token"]
    machine = TestClient(app, headers={"Authorization": f"Bearer {token}"})
    assert operator.get("/api/v1/auth/me").status_code == 200
    assert machine.get("/api/v1/auth/me").status_code == 200

    r = admin.post("/api/v1/users/op-pin/deactivate", json={"reason": "badge lost"})
    assert r.status_code == 200 and r.json()["active"] is False
    assert operator.get("/api/v1/auth/me").status_code == 401
    assert machine.get("/api/v1/auth/me").status_code == 401
    assert TestClient(app).post("/api/v1/auth/pin", json={"who": "B-1001", "pin": "4821"}).status_code == 401
    entry = admin.get("/api/v1/audit", params={"limit": 1}).json()[0]
    assert (entry["action"], entry["target"], entry["reason"]) == ("user.deactivate", "user:op-pin", "badge lost")

    assert admin.post("/api/v1/users/op-pin/activate").json()["active"] is True
    assert _operator_session(app).get("/api/v1/auth/me").json()["username"] == "op-pin"
    assert machine.get("/api/v1/auth/me").status_code == 401  # tokens stay revoked


def test_change_reset_and_sign_out_everywhere(app, as_role):
    admin = as_role("admin")
    r = admin.patch("/api/v1/users/op-pin", json={"language": "ko", "badge": "B-2002"})
    assert (r.status_code, r.json()["language"], r.json()["badge"]) == (200, "ko", "B-2002")
    operator = TestClient(app)
    assert operator.post("/api/v1/auth/pin", json={"who": "B-2002", "pin": "4821"}).status_code == 200
    assert admin.delete("/api/v1/users/op-pin/sessions").json() == {"ended": 1}
    assert operator.get("/api/v1/auth/me").status_code == 401
    assert admin.post("/api/v1/users/op-pin/secret", json={"pin": "9090"}).status_code == 200
    assert TestClient(app).post("/api/v1/auth/pin", json={"who": "B-2002", "pin": "4821"}).status_code == 401
    assert TestClient(app).post("/api/v1/auth/pin", json={"who": "B-2002", "pin": "9090"}).status_code == 200
    supervisor = signed_in(app, "supervisor")
    assert admin.post("/api/v1/users/supervisor/secret", json={"password": "a new password"}).status_code == 200
    assert supervisor.get("/api/v1/auth/me").status_code == 401
    r = TestClient(app).post("/api/v1/auth/login", json={"username": "supervisor", "password": "a new password"})
    assert r.status_code == 200


def test_refusals_come_in_the_askers_language(app, as_role):
    admin = as_role("admin")
    r = admin.post("/api/v1/users/admin/deactivate", json={}, headers={"Accept-Language": "ko"})
    assert (r.status_code, r.json()["code"]) == (409, "user.cannot_deactivate_self")
    assert r.json()["detail"] == error_message(CannotDeactivateSelf(user="admin"), "ko")
    r = admin.post("/api/v1/users/manager/secret", json={"pin": "1234"}, headers={"Accept-Language": "vi"})
    assert (r.status_code, r.json()["detail"]) == (422, error_message(PinOnlyForOperators(), "vi"))
    for role in ("operator", "supervisor", "quality", "manager"):
        assert signed_in(app, role).post("/api/v1/users/op-pin/deactivate", json={}).status_code == 403


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_the_admin_page_lists_creates_changes_and_deactivates(app):
    admin = TestClient(app)
    admin.post("/login", data={"username": "admin", "password": PASSWORD, "next": "/"})
    page = admin.get("/admin/users")
    assert page.status_code == 200 and "op-pin" in page.text
    csrf = _csrf(page.text)
    r = admin.post("/admin/users", data={"username": "tran", "role": "operator", "badge": "B-3003", "language": "vi",
                                         "secret": "2468", "csrf_token": csrf}, follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    assert TestClient(app).post("/api/v1/auth/pin", json={"who": "B-3003", "pin": "2468"}).status_code == 200
    r = admin.post("/admin/users/tran", data={"role": "supervisor", "language": "vi", "badge": "B-3003",
                                              "csrf_token": csrf})  # fmt: skip
    assert r.status_code == 422 and error_message(PinOnlyForOperators(), "ko") in r.text  # the plant is in Seoul
    r = admin.post("/admin/users/tran/deactivate", data={"reason": "", "csrf_token": "wrong"})
    assert r.status_code == 403
    r = admin.post("/admin/users/tran/deactivate", data={"reason": "moved", "csrf_token": csrf})
    assert r.status_code == 200 and 'class="inactive" data-user="tran"' in r.text
    badge = admin.get("/admin/users/op-pin/badge")
    assert badge.status_code == 200 and "Code 128: B-1001" in badge.text
    supervisor = TestClient(app)
    supervisor.post("/login", data={"username": "supervisor", "password": PASSWORD, "next": "/"})
    assert supervisor.get("/admin/users").status_code == 403
