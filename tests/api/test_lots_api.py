"""Lots over the API: who may do what, idempotent requests, status codes, trace, label and recall."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from tests.lots_data import add_master_data, five_levels


@pytest.fixture
def lots_app(app):
    with app.state.engine.begin() as conn:
        add_master_data(conn, with_plant=False)
    return app


def test_receive_is_done_once_per_idempotency_key(lots_app, as_role):
    op = as_role("operator")
    body = {"item": "COIL", "qty": "12.5", "supplier": "POSCO", "supplier_lot": "P-9", "location": "WH"}
    first = op.post("/api/v1/lots", json=body, headers={"Idempotency-Key": "scan-1"})
    again = op.post("/api/v1/lots", json=body, headers={"Idempotency-Key": "scan-1"})
    assert first.status_code == 201 and again.status_code == 201
    assert first.json()["code"] == again.json()["code"] and first.json()["qty"] == "12.5"
    assert len(op.get("/api/v1/lots", params={"item": "COIL"}).json()) == 1
    bad = op.post("/api/v1/lots", json=body | {"qty": "1.0005"})
    assert (bad.status_code, bad.json()["code"], bad.json()["params"]) == (
        422,
        "quantity.decimals",
        {"what": "quantity", "value": "1.0005"},
    )
    unknown = op.post("/api/v1/lots", json=body | {"item": "NOPE"})
    assert (unknown.status_code, unknown.json()["code"], unknown.json()["params"]) == (
        422,
        "lot.item_unknown",
        {"item": "NOPE"},
    )


def test_holds_are_for_quality_and_block_issues(lots_app, as_role):
    op, qa, sup = as_role("operator"), as_role("quality"), as_role("supervisor")
    code = op.post("/api/v1/lots", json={"item": "COIL", "qty": 10}).json()["code"]
    sup.post("/api/v1/work-orders", json={"code": "WO-1", "product": "SHELL", "quantity": 5, "machine": "WLD-01"})
    sup.post("/api/v1/work-orders/WO-1/transition", json={"to": "released"})
    assert op.post(f"/api/v1/lots/{code}/hold", json={"reason": "x"}).status_code == 403
    assert qa.post(f"/api/v1/lots/{code}/hold", json={"reason": "tensile test"}).json()["status"] == "hold"
    refused = op.post(f"/api/v1/lots/{code}/issue", json={"work_order": "WO-1", "qty": 2})
    assert refused.status_code == 409 and "is hold: cannot issue" in refused.json()["detail"]
    qa.post(f"/api/v1/lots/{code}/release", json={"reason": "retest passed"})
    issued = op.post(f"/api/v1/lots/{code}/issue", json={"work_order": "WO-1", "qty": 2})
    assert issued.status_code == 200 and issued.json()["qty"] == "8"
    too_much = op.post(f"/api/v1/lots/{code}/issue", json={"work_order": "WO-1", "qty": 20})
    assert too_much.status_code == 409 and "has 8 kg" in too_much.json()["detail"]
    assert op.get("/api/v1/lots/NOPE").status_code == 404
    detail = op.get(f"/api/v1/lots/{code}").json()
    assert [m["kind"] for m in detail["movements"]] == ["receive", "hold", "release", "issue"]
    audit = as_role("admin").get("/api/v1/audit").json()
    assert {"lot.receive", "lot.hold", "lot.release", "lot.issue"} <= {e["action"] for e in audit}


def test_output_split_ship_trace_label_and_recall(lots_app, as_role):
    with lots_app.state.engine.begin() as conn:
        from shopfloor.actions.demo import sample_plant

        five_levels(conn, sample_plant())
    op = as_role("operator")
    back = op.get("/api/v1/lots/FG-1-2/trace", params={"direction": "backward"}).json()
    assert {"COIL-A", "WIRE-1"} <= {n["id"] for n in back["nodes"]}
    forward = op.get("/api/v1/lots/WIRE-1/trace", params={"direction": "forward"}).json()
    assert any(n["type"] == "shipment" for n in forward["nodes"])
    stock = op.get("/api/v1/inventory", params={"by": "item"}).json()
    assert {"item": "DRUM-A", "unit": "pcs", "lots": 1, "on_hand": "30", "on_hold": "0"} in stock
    label = op.get("/api/v1/lots/FG-1-2/label.pdf")
    assert label.status_code == 200 and label.headers["content-type"] == "application/pdf"
    assert label.content.startswith(b"%PDF")
    xlsx = op.get("/api/v1/lots/WIRE-1/recall", params={"format": "xlsx"})
    assert xlsx.status_code == 200
    assert load_workbook(io.BytesIO(xlsx.content))["shipments"]["A2"].value == "LGE"
    report = op.get("/api/v1/lots/WIRE-1/recall").json()
    assert report["summary"]["customers"] == ["LGE"] and report["summary"]["supplier_lots"] == []


def test_split_and_merge_over_the_api(lots_app, as_role):
    op = as_role("operator")
    code = op.post("/api/v1/lots", json={"item": "COIL", "qty": 10}).json()["code"]
    parts = op.post(f"/api/v1/lots/{code}/split", json={"quantities": [3, "2.5"]}, headers={"Idempotency-Key": "s"})
    again = op.post(f"/api/v1/lots/{code}/split", json={"quantities": [3, "2.5"]}, headers={"Idempotency-Key": "s"})
    assert [p["qty"] for p in parts.json()] == ["4.5", "3", "2.5"] and again.json() == parts.json()
    merged = op.post("/api/v1/lots/merge", json={"lots": [p["code"] for p in parts.json()]})
    assert merged.status_code == 201 and merged.json()["qty"] == "10"
    anonymous_label = op.__class__(lots_app).get(f"/api/v1/lots/{code}/label.pdf")
    assert anonymous_label.status_code == 401
