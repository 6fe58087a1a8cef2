"""Work orders: every transition, illegal ones refused with a reason, dispatch order, progress from the
terminal and from machine counts, and the order on the board and the terminal."""

import re
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from shopfloor.errors import TransitionNotAllowed, WorkOrderFinal
from shopfloor.model.work_orders import TRANSITIONS, Status, check_transition


@pytest.mark.parametrize("current", list(Status))
def test_each_transition_is_allowed_or_refused_with_the_allowed_ones(current):
    allowed = [s.value for s in TRANSITIONS[current]]
    for target in Status:
        if target in TRANSITIONS[current]:
            check_transition("WO-1", current, target)
            continue
        with pytest.raises((TransitionNotAllowed, WorkOrderFinal)) as refused:
            check_transition("WO-1", current, target)
        params = {"work_order": "WO-1", "status": current.value, "target": target.value}
        expected = TransitionNotAllowed(**params, allowed=allowed) if allowed else WorkOrderFinal(**params)
        assert refused.value == expected


def _create(client, code, machine="CNC-01", priority=0, due=None, quantity=100):
    r = client.post(
        "/api/v1/work-orders",
        json={
            "code": code,
            "product": "TM-CASE",
            "quantity": quantity,
            "machine": machine,
            "priority": priority,
            "due": due,
        },
    )
    assert r.status_code == 201, r.text
    return r.json()


def test_lifecycle_over_the_api_and_illegal_steps_refused(as_role):
    sup = as_role("supervisor")
    assert _create(sup, "WO-100")["status"] == "planned"
    r = sup.post("/api/v1/work-orders/WO-100/transition", json={"to": "completed"})
    assert r.status_code == 409
    assert (r.json()["code"], r.json()["params"]) == (
        "work_order.transition_not_allowed",
        {"work_order": "WO-100", "status": "planned", "allowed": ["released", "cancelled"], "target": "completed"},
    )
    assert r.json()["detail"] == "work order WO-100 is planned: it can go to released, cancelled, not completed"
    for step in ("released", "in_progress", "completed", "closed"):
        r = sup.post("/api/v1/work-orders/WO-100/transition", json={"to": step})
        assert r.status_code == 200 and r.json()["status"] == step
    r = sup.post("/api/v1/work-orders/WO-100/transition", json={"to": "cancelled"})
    assert (r.status_code, r.json()["code"]) == (409, "work_order.final")
    r = sup.post("/api/v1/work-orders/NOPE/transition", json={"to": "released"})
    assert (r.status_code, r.json()["code"], r.json()["params"]) == (
        404,
        "work_order.not_found",
        {"work_order": "NOPE"},
    )
    r = sup.post("/api/v1/work-orders", json={"code": "WO-100", "product": "TM-CASE", "quantity": 1})
    assert (r.status_code, r.json()["code"]) == (409, "work_order.exists")
    r = sup.post("/api/v1/work-orders", json={"code": "WO-X", "product": "NOPE", "quantity": 1, "machine": "NO-M"})
    assert (r.status_code, r.json()["code"]) == (422, "request.problems")
    assert [p["code"] for p in r.json()["problems"]] == ["plant.product_unknown", "plant.machine_unknown"]
    assert (
        as_role("operator")
        .post("/api/v1/work-orders", json={"code": "WO-Y", "product": "TM-CASE", "quantity": 1})
        .status_code
        == 403
    )


def test_one_order_in_progress_per_machine_and_dispatch_order(as_role):
    sup = as_role("supervisor")
    soon = (datetime.now(timezone.utc) + timedelta(days=1)).isoformat()
    later = (datetime.now(timezone.utc) + timedelta(days=3)).isoformat()
    for code, prio, due in (("A", 0, later), ("B", 5, later), ("C", 0, soon)):
        _create(sup, code, priority=prio, due=due)
        sup.post(f"/api/v1/work-orders/{code}/transition", json={"to": "released"})
    assert [w["code"] for w in sup.get("/api/v1/machines/CNC-01/dispatch").json()] == ["B", "C", "A"]
    assert sup.post("/api/v1/work-orders/B/transition", json={"to": "in_progress"}).status_code == 200
    r = sup.post("/api/v1/work-orders/C/transition", json={"to": "in_progress"})
    assert r.status_code == 409
    assert (r.json()["code"], r.json()["params"]) == ("work_order.machine_busy", {"running": "B", "machine": "CNC-01"})


def _terminal(app):
    client = TestClient(app)
    client.post("/terminal/login", data={"who": "B-1001", "pin": "4821"})
    html = client.get("/terminal?machine=CNC-01").text
    return client, {"X-CSRF-Token": re.search(r'data-csrf="([^"]+)"', html).group(1)}


def test_the_terminal_starts_an_order_counts_for_it_and_finishes_it(app, as_role):
    sup = as_role("supervisor")
    _create(sup, "WO-7", quantity=50)
    sup.post("/api/v1/work-orders/WO-7/transition", json={"to": "released"})
    client, headers = _terminal(app)
    html = client.get("/terminal?machine=CNC-01").text
    assert 'data-work-order="WO-7"' in html  # the dispatch list offers it
    now = datetime.now(timezone.utc)
    start = {
        "key": "t-00000001",
        "ts": (now - timedelta(seconds=30)).isoformat(),
        "machine": "CNC-01",
        "action": "start",
        "work_order": "WO-7",
    }
    assert client.post("/api/v1/pop/entries", json=start, headers=headers).status_code == 200
    assert client.post("/api/v1/pop/entries", json=start, headers=headers).json()["duplicate"]  # resend
    good = {
        "key": "t-00000002",
        "ts": (now - timedelta(seconds=20)).isoformat(),
        "machine": "CNC-01",
        "action": "good",
        "quantity": 1,  # the machine started 10 s earlier: one unit is all its ideal cycle explains
        "work_order": "WO-7",
    }
    assert client.post("/api/v1/pop/entries", json=good, headers=headers).status_code == 200
    # A count without an order (as a machine sends it) goes to the order in progress at its time.
    sup.post(
        "/api/v1/events",
        json=[
            {
                "ts": (now - timedelta(seconds=10)).isoformat(),
                "machine": "CNC-01",
                "event": "good",
                "quantity": 3,
                "product": "TM-CASE",
            }
        ],
    )
    wo = [w for w in sup.get("/api/v1/work-orders").json() if w["code"] == "WO-7"][0]
    assert wo["status"] == "in_progress" and wo["progress"]["good"] == 4
    board = TestClient(app)
    board.post("/login", data={"username": "supervisor", "password": "test-password-123"})
    assert "WO-7" in board.get("/board").text
    finish = {"key": "t-00000003", "ts": now.isoformat(), "machine": "CNC-01", "action": "finish"}
    assert client.post("/api/v1/pop/entries", json=finish, headers=headers).status_code == 200
    assert sup.get("/api/v1/work-orders", params={"status": "completed"}).json()[0]["code"] == "WO-7"


def test_an_unknown_order_on_the_terminal_is_refused(app):
    client, headers = _terminal(app)
    r = client.post(
        "/api/v1/pop/entries",
        json={
            "key": "t-00000009",
            "ts": datetime.now(timezone.utc).isoformat(),
            "machine": "CNC-01",
            "action": "start",
            "work_order": "GHOST",
        },
        headers=headers,
    )
    assert (r.status_code, r.json()["code"], r.json()["detail"]) == (404, "work_order.not_found", "no work order GHOST")


def test_assignment_before_start_and_operations_from_the_routing(app, as_role):
    from datetime import datetime, timezone

    from shopfloor.model.events import CountEvent, CountKind
    from shopfloor.store.events import append_events
    from tests.lots_data import add_master_data

    engine = app.state.engine
    with engine.begin() as conn:
        add_master_data(conn, with_plant=False)
        from sqlalchemy import insert

        from shopfloor.store.schema import operations

        conn.execute(
            insert(operations),
            [
                {"item": "SHELL", "seq": 10, "code": "ROLL", "name": "Roll", "work_centre": "WLD-01",
                 "ideal_cycle_s": 40, "setup_s": 600},
                {"item": "SHELL", "seq": 20, "code": "WELD", "name": "Weld", "work_centre": "WELD",
                 "ideal_cycle_s": 30, "setup_s": 0},
            ],
        )  # fmt: skip
    sup, op = as_role("supervisor"), as_role("operator")
    made = sup.post(
        "/api/v1/work-orders", json={"code": "WO-9", "product": "SHELL", "quantity": 10, "operator": "nobody"}
    )
    assert (made.status_code, made.json()["code"]) == (422, "work_order.operator_unknown")
    sup.post("/api/v1/work-orders", json={"code": "WO-9", "product": "SHELL", "quantity": 10, "operator": "operator"})
    assert op.post("/api/v1/work-orders/WO-9/assign", json={"machine": "WLD-01"}).status_code == 403
    moved = sup.post(
        "/api/v1/work-orders/WO-9/assign", json={"machine": "WLD-01", "priority": 5, "clear": ["operator"]}
    )
    assert moved.status_code == 200 and moved.json()["machine"] == "WLD-01" and moved.json()["operator"] is None
    assert sup.post("/api/v1/work-orders/WO-9/assign", json={}).json()["code"] == "work_order.nothing_to_assign"
    sup.post("/api/v1/work-orders/WO-9/transition", json={"to": "released"})
    sup.post("/api/v1/work-orders/WO-9/transition", json={"to": "in_progress"})
    late = sup.post("/api/v1/work-orders/WO-9/assign", json={"machine": "WLD-02"})
    assert (late.status_code, late.json()["code"]) == (409, "work_order.started")
    now = datetime.now(timezone.utc)
    with engine.begin() as conn:
        append_events(
            conn,
            [
                CountEvent(now, "WLD-01", CountKind.GOOD, 4, work_order="WO-9"),
                CountEvent(now, "WLD-02", CountKind.GOOD, 3, work_order="WO-9"),
                CountEvent(now, "WLD-02", CountKind.SCRAP, 1, work_order="WO-9"),
            ],
        )
    detail = op.get("/api/v1/work-orders/WO-9").json()
    ops = {o["seq"]: o for o in detail["operations"]}
    assert ops[10]["planned_s"] == 600 + 10 * 40 and (ops[10]["good"], ops[10]["scrap"]) == (4, 0)
    assert (ops[20]["good"], ops[20]["scrap"]) == (4 + 3, 1)  # the WELD line: WLD-01 and WLD-02
    assert [h["to"] for h in detail["history"]] == ["planned", "planned", "released", "in_progress"]


def test_an_order_is_corrected_with_patch_and_refused_with_the_reason(app, as_role):
    sup, op = as_role("supervisor"), as_role("operator")
    _create(sup, "WO-E", machine="CNC-01", quantity=10)
    assert op.patch("/api/v1/work-orders/WO-E", json={"quantity": 12}).status_code == 403
    due = "2026-07-01T23:59:00+09:00"
    fixed = sup.patch("/api/v1/work-orders/WO-E", json={"product": "DF-CASE", "quantity": 12, "due": due})
    assert fixed.status_code == 200, fixed.text
    body = fixed.json()
    assert (body["product"], body["quantity"], body["machine"], body["status"]) == ("DF-CASE", 12, "CNC-01", "planned")
    assert datetime.fromisoformat(body["due"]) == datetime.fromisoformat(due)
    cleared = sup.patch("/api/v1/work-orders/WO-E", json={"due": None, "machine": None}).json()
    assert (cleared["due"], cleared["machine"], cleared["quantity"]) == (None, None, 12)
    for bad in ({"quantity": None}, {"quantity": 0}, {"colour": "red"}, {"due": "2026-07-01T10:00:00"}):
        assert sup.patch("/api/v1/work-orders/WO-E", json=bad).status_code == 422, bad
    nothing = sup.patch("/api/v1/work-orders/WO-E", json={})
    assert (nothing.status_code, nothing.json()["code"]) == (422, "work_order.nothing_to_edit")
    missing = sup.patch("/api/v1/work-orders/NOPE", json={"quantity": 3})
    assert (missing.status_code, missing.json()["code"]) == (404, "work_order.not_found")
    sup.post("/api/v1/work-orders/WO-E/transition", json={"to": "cancelled", "reason": "duplicate"})
    final = sup.patch("/api/v1/work-orders/WO-E", json={"quantity": 3}, headers={"Accept-Language": "ko"})
    assert (final.status_code, final.json()["code"]) == (409, "work_order.not_editable")
    assert final.json()["detail"].startswith("작업지시 WO-E은(는) cancelled")
    summary = app.openapi()["paths"]["/api/v1/work-orders/{code}"]["patch"]
    assert summary["summary"].startswith("Correct a work order") and {"404", "409", "422"} <= set(summary["responses"])
