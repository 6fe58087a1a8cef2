"""Sign-in and sign-out by badge over the API (a badge reader beside the terminal), on both stores: the row, the
audit entry, who is present at the machine, and the refusals in the asker's language."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from shopfloor.store import audit


def _last_audit(engine) -> dict:
    with engine.connect() as conn:
        return audit.entries(conn, 1)[0]


def test_a_badge_signs_in_and_out_at_a_machine(app, as_role):
    engine = app.state.engine
    op = as_role("operator")
    at = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=5)
    r = op.post("/api/v1/attendance/sign-in", json={"badge": "B-1001", "machine": "WLD-01", "ts": at.isoformat()})
    assert r.status_code == 201, r.text
    assert (r.json()["username"], r.json()["machine"]) == ("op-pin", "WLD-01")
    entry = _last_audit(engine)
    assert (entry["action"], entry["target"], entry["actor"]) == (
        "attendance.sign_in",
        "machine:WLD-01",
        "user:operator",
    )
    present = as_role("supervisor").get("/api/v1/attendance", params={"machine": "WLD-01"}).json()
    assert [p["username"] for p in present] == ["op-pin"]
    assert datetime.fromisoformat(present[0]["signed_in"]) == at

    twice = op.post("/api/v1/attendance/sign-in", json={"badge": "B-1001", "machine": "WLD-02"},
                    headers={"Accept-Language": "ko"})  # fmt: skip
    assert (twice.status_code, twice.json()["code"]) == (409, "attendance.already_signed_in")
    assert "WLD-01" in twice.json()["detail"] and twice.json()["detail"] != twice.json()["title"]

    out = op.post("/api/v1/attendance/sign-out", json={"badge": "B-1001"})
    assert out.status_code == 200 and out.json()["machine"] == "WLD-01" and out.json()["signed_out"]
    assert _last_audit(engine)["action"] == "attendance.sign_out"
    assert op.get("/api/v1/attendance", params={"machine": "WLD-01"}).json() == []
    again = op.post("/api/v1/attendance/sign-out", json={"badge": "B-1001"})
    assert (again.status_code, again.json()["code"]) == (409, "attendance.not_signed_in")


def test_unknown_badges_and_machines_and_roles_are_refused(app, as_role, anonymous):
    op = as_role("operator")
    unknown = op.post("/api/v1/attendance/sign-in", json={"badge": "B-9999", "machine": "WLD-01"})
    assert unknown.status_code == 404
    machine = op.post("/api/v1/attendance/sign-in", json={"badge": "B-1001", "machine": "NOPE"})
    assert (machine.status_code, machine.json()["code"]) == (422, "plant.machine_unknown")
    assert op.get("/api/v1/attendance", params={"machine": "NOPE"}).status_code == 422
    quality = as_role("quality").post("/api/v1/attendance/sign-in", json={"badge": "B-1001", "machine": "WLD-01"})
    assert quality.status_code == 403
    assert anonymous.post("/api/v1/attendance/sign-out", json={"badge": "B-1001"}).status_code == 401
