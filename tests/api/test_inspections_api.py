"""Inspections and NCRs over the API: who may do what, samples with their violations, CSV import, dispositions."""

from __future__ import annotations

import pytest

from tests.lots_data import add_master_data

BEAD = {
    "product": "DRUM-A",
    "code": "BEAD-W",
    "name": "Weld bead width",
    "kind": "variable",
    "chart": "xbar-r",
    "unit": "mm",
    "lsl": 1.7,
    "usl": 2.3,
    "sample_size": 3,
    "phase1": 4,
}


@pytest.fixture
def qapp(app):
    with app.state.engine.begin() as conn:
        add_master_data(conn, with_plant=False)
    return app


def test_plans_are_for_quality_samples_for_operators(qapp, as_role):
    qa, op = as_role("quality"), as_role("operator")
    assert op.post("/api/v1/quality/characteristics", json=BEAD).status_code == 403
    bad = qa.post("/api/v1/quality/characteristics", json=BEAD | {"sample_size": 1})
    assert bad.status_code == 422 and "needs subgroups of 2 to 25" in bad.json()["detail"]
    cid = qa.post("/api/v1/quality/characteristics", json=BEAD).json()["id"]
    for g in [[2.0, 2.01, 1.99], [2.02, 2.0, 1.98], [1.99, 2.0, 2.01], [2.0, 2.02, 1.99]]:
        r = op.post(f"/api/v1/quality/characteristics/{cid}/samples", json={"measurements": g, "source": "terminal"})
        assert r.status_code == 201 and r.json()["violations"] == []
    out = op.post(f"/api/v1/quality/characteristics/{cid}/samples", json={"measurements": [2.3, 2.31, 2.29]})
    assert any(v["rule"] == "nelson1" for v in out.json()["violations"])
    chart = op.get(f"/api/v1/quality/characteristics/{cid}").json()
    assert chart["limits"] == "frozen" and len(chart["charts"]) == 2 and chart["capability"]["cp"] > 0
    wrong = op.post(f"/api/v1/quality/characteristics/{cid}/samples", json={"measurements": [2.0]})
    assert wrong.status_code == 422 and "takes 3 value(s)" in wrong.json()["detail"]
    assert op.get("/api/v1/quality/characteristics/999").status_code == 404
    listed = op.get("/api/v1/quality/characteristics", params={"product": "DRUM-A"}).json()
    assert [c["code"] for c in listed] == ["BEAD-W"]


def test_samples_from_a_csv_are_refused_whole_with_their_lines(qapp, as_role):
    qa = as_role("quality")
    qa.post("/api/v1/quality/characteristics", json=BEAD)
    good = "product,characteristic,ts,values\nDRUM-A,BEAD-W,2026-03-02T08:00:00+09:00,2.0 2.01 1.99\n"
    bad = good + "DRUM-A,BEAD-W,2026-03-02T09:00:00,2.0 2.01 1.99\nDRUM-A,NOPE,2026-03-02T09:00:00+09:00,1 2 3\n"
    refused = qa.post("/api/v1/quality/samples/import", files={"file": ("s.csv", bad.encode(), "text/csv")})
    assert refused.status_code == 422
    assert refused.json()["code"] == "sample.file_refused"
    assert [(p["line"], p["code"], p["message"]) for p in refused.json()["problems"]] == [
        (3, "sample.time_invalid", "line 3: column ts: 2026-03-02T09:00:00 is not ISO 8601 with a UTC offset"),
        (4, "characteristic.not_found_for_product", "line 4: no characteristic NOPE of DRUM-A"),
    ]
    cid = qa.get("/api/v1/quality/characteristics").json()[0]["id"]
    assert qa.get(f"/api/v1/quality/characteristics/{cid}/samples").json() == []
    for _ in range(2):  # imported twice: stored once
        ok = qa.post("/api/v1/quality/samples/import", files={"file": ("s.csv", good.encode(), "text/csv")})
        assert ok.status_code == 200, ok.text
    assert len(qa.get(f"/api/v1/quality/characteristics/{cid}/samples").json()) == 1


def test_an_ncr_is_raised_by_anyone_and_decided_by_quality(qapp, as_role):
    op, qa = as_role("operator"), as_role("quality")
    op.post("/api/v1/lots", json={"item": "COIL", "qty": 50, "code": "C1", "supplier": "POSCO"})
    raised = op.post("/api/v1/quality/ncrs", json={"description": "rust on the outer wraps", "lot": "C1", "qty": 5})
    assert raised.status_code == 201
    code = raised.json()["code"]
    assert op.get("/api/v1/lots/C1").json()["status"] == "hold"
    body = {"disposition": "scrap", "note": "outer wraps removed"}
    assert op.post(f"/api/v1/quality/ncrs/{code}/disposition", json=body).status_code == 403
    decided = qa.post(f"/api/v1/quality/ncrs/{code}/disposition", json=body)
    assert decided.status_code == 200 and decided.json()["status"] == "closed"
    lot = op.get("/api/v1/lots/C1").json()
    assert (lot["status"], lot["qty"]) == ("active", "45")
    again = qa.post(f"/api/v1/quality/ncrs/{code}/disposition", json=body)
    assert again.status_code == 409 and "closed already" in again.json()["detail"]
    assert qa.get("/api/v1/quality/ncrs", params={"status": "closed"}).json()[0]["code"] == code
    missing = op.post("/api/v1/quality/ncrs", json={"description": "x", "lot": "NOPE"})
    assert missing.status_code == 404


def test_a_problem_found_while_storing_keeps_nothing_of_the_file(qapp, as_role):
    qa = as_role("quality")
    qa.post("/api/v1/quality/characteristics", json=BEAD)
    rows = "product,characteristic,ts,values,lot\n"
    rows += "DRUM-A,BEAD-W,2026-03-02T08:00:00+09:00,2.0 2.01 1.99,\n"
    rows += "DRUM-A,BEAD-W,2026-03-02T09:00:00+09:00,2.0 2.01,\n"  # two values of three: found when stored
    refused = qa.post("/api/v1/quality/samples/import", files={"file": ("s.csv", rows.encode(), "text/csv")})
    assert refused.status_code == 422
    assert refused.json()["problems"] == [
        {"code": "sample.size", "params": {"characteristic": "BEAD-W", "size": 3, "count": 2}, "line": 3,
         "message": "line 3: BEAD-W takes 3 value(s) per sample, not 2"}
    ]  # fmt: skip
    cid = qa.get("/api/v1/quality/characteristics").json()[0]["id"]
    assert qa.get(f"/api/v1/quality/characteristics/{cid}/samples").json() == []


def test_the_chart_as_pdf_shows_the_characteristic_and_its_violation(qapp, as_role):
    import io

    from pypdf import PdfReader

    qa = as_role("quality")
    cid = qa.post("/api/v1/quality/characteristics", json=BEAD).json()["id"]
    for g in [[2.0, 2.01, 1.99], [2.02, 2.0, 1.98], [1.99, 2.0, 2.01], [2.0, 2.02, 1.99], [2.3, 2.31, 2.29]]:
        qa.post(f"/api/v1/quality/characteristics/{cid}/samples", json={"measurements": g})
    r = qa.get(f"/api/v1/quality/characteristics/{cid}/chart.pdf")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(r.content)).pages)
    assert "BEAD-W" in text and "nelson1" in text and "cpk" in text
