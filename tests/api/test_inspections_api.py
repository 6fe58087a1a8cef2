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
    assert refused.json()["problems"] == [
        "line 3, column ts: '2026-03-02T09:00:00' is not ISO 8601 with a UTC offset",
        "line 4: no characteristic 'NOPE' of product 'DRUM-A'",
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
    assert refused.status_code == 422 and refused.json()["problems"] == [
        "line 3: BEAD-W takes 3 value(s) per sample, not 2"
    ]
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


def test_implausible_measurements_are_refused_and_quality_keeps_answering(qapp, as_role):
    # A 1e200 over the API and a 1e308 in a samples CSV were stored and made /quality answer 500 for everyone.
    qa, op = as_role("quality"), as_role("operator")
    cid = qa.post("/api/v1/quality/characteristics", json=BEAD).json()["id"]
    huge = op.post(f"/api/v1/quality/characteristics/{cid}/samples", json={"measurements": [2.0, 1e200, 2.0]})
    assert huge.status_code == 422
    assert "value 2 (1e+200 mm) lies outside the plausible range of BEAD-W, -4.3 to 8.3 mm" in huge.json()["detail"]
    csv_text = "product,characteristic,ts,values\nDRUM-A,BEAD-W,2026-03-02T08:00:00+09:00,2.0 1e308 1.99\n"
    refused = qa.post("/api/v1/quality/samples/import", files={"file": ("s.csv", csv_text.encode(), "text/csv")})
    assert refused.status_code == 422 and "plausible range" in refused.json()["problems"][0]
    assert qa.get(f"/api/v1/quality/characteristics/{cid}/samples").json() == []  # the store is unchanged
    # A stated range (the gauge's) replaces the ten tolerances around the limits.
    narrow = qa.post("/api/v1/quality/characteristics", json=BEAD | {"valid_min": 1.0, "valid_max": 3.0})
    assert narrow.status_code == 201 and narrow.json()["valid_max"] == 3.0
    assert (
        op.post(f"/api/v1/quality/characteristics/{cid}/samples", json={"measurements": [2, 3.5, 2]}).status_code == 422
    )
    assert qa.get("/quality").status_code == 200


def test_quality_voids_a_wrong_sample_with_a_reason_and_excludes_an_assignable_cause(qapp, as_role, app):
    qa, op = as_role("quality"), as_role("operator")
    cid = qa.post("/api/v1/quality/characteristics", json=BEAD | {"phase1": None}).json()["id"]
    ids = []
    for g in ([2.0, 2.01, 1.99], [2.02, 2.0, 1.98], [2.2, 2.25, 2.21], [1.99, 2.0, 2.01], [2.0, 1.98, 2.0]):
        ids.append(op.post(f"/api/v1/quality/characteristics/{cid}/samples", json={"measurements": g}).json()["id"])
    url = f"/api/v1/quality/characteristics/{cid}/samples"
    assert op.post(f"{url}/{ids[2]}/void", json={"reason": "typed"}).status_code == 403
    assert qa.post(f"{url}/{ids[2]}/void", json={"reason": ""}).status_code == 422
    before = qa.get(f"/api/v1/quality/characteristics/{cid}").json()
    excluded = qa.post(f"{url}/{ids[2]}/exclude", json={"reason": "new coil, wrong wire feed"})
    assert excluded.status_code == 200 and excluded.json()["excluded_reason"] == "new coil, wrong wire feed"
    revised = qa.get(f"/api/v1/quality/characteristics/{cid}").json()
    assert revised["excluded"] == [2] and len(revised["charts"][0]["values"]) == 5  # still charted
    assert revised["charts"][0]["centre"] < before["charts"][0]["centre"]  # left out of the limits
    assert revised["charts"][0]["baseline"] == [0, 1, 3, 4]
    voided = qa.post(f"{url}/{ids[4]}/void", json={"reason": "measured the wrong part"})
    assert voided.status_code == 200 and voided.json()["voided_by"] == "user:quality"
    again = qa.post(f"{url}/{ids[4]}/void", json={"reason": "twice"})
    assert again.status_code == 409
    assert qa.post(f"{url}/99999/void", json={"reason": "x"}).status_code == 404
    after = qa.get(f"/api/v1/quality/characteristics/{cid}").json()
    assert after["sample_ids"] == ids[:4] and len(after["charts"][0]["values"]) == 4
    kept = qa.get(url).json()
    assert [s["void_reason"] for s in kept] == [None, None, None, None, "measured the wrong part"]
    from sqlalchemy import select

    from shopfloor.store.schema import audit_log

    with app.state.engine.connect() as conn:
        actions = [r.action for r in conn.execute(select(audit_log).order_by(audit_log.c.id))]
    assert "quality.sample_void" in actions and "quality.sample_exclude" in actions


def test_chart_options_and_rule_sets_are_settings_of_the_characteristic(qapp, as_role):
    qa = as_role("quality")
    ewma = BEAD | {"code": "BEAD-E", "chart": "ewma", "sample_size": 1, "phase1": None}
    assert qa.post("/api/v1/quality/characteristics", json=ewma | {"rules": "westgard"}).status_code == 422
    made = qa.post(
        "/api/v1/quality/characteristics",
        json=ewma
        | {"options": {"lambda": 0.3, "nsigmas": 2.7, "ewma_limits": "asymptotic", "centre": 2.0, "sigma": 0.05}},
    )
    assert made.status_code == 201, made.text
    cid = made.json()["id"]
    for x in (2.0, 2.02, 1.97, 2.01, 2.03, 1.99):
        qa.post(f"/api/v1/quality/characteristics/{cid}/samples", json={"measurements": [x]})
    chart = qa.get(f"/api/v1/quality/characteristics/{cid}").json()
    first = chart["charts"][0]
    assert chart["rules"] == "limits" and first["lambda"] == 0.3 and first["limits"] == "asymptotic"
    assert first["ucl"] == pytest.approx(2.0 + 2.7 * 0.05 * (0.3 / 1.7) ** 0.5)
    assert chart["capability"]["basis"]["set"] == "all"
    rules = qa.post("/api/v1/quality/characteristics", json=BEAD | {"rules": "nelson:1,2=7,5"})
    assert rules.json()["rules"] == "nelson:1,2=7,5"


def test_a_huge_value_stored_before_the_range_check_gives_a_message_not_an_error(qapp, as_role, app):
    # Samples stored before measurements were checked (or by a machine's process values) may hold 1e200: the chart
    # answers why it has no limits, and /quality keeps answering.
    from datetime import datetime, timezone

    from sqlalchemy import insert

    from shopfloor.store.schema import inspection_samples

    qa = as_role("quality")
    cid = qa.post("/api/v1/quality/characteristics", json=BEAD | {"phase1": None}).json()["id"]
    with app.state.engine.begin() as conn:
        for g in ([2.0, 2.01, 1.99], [1e200, 1e200, -1e200], [2.0, 1.99, 2.0]):
            conn.execute(
                insert(inspection_samples).values(
                    characteristic_id=cid, ts=datetime.now(timezone.utc), measurements=g, inspector="old", source="api"
                )
            )
    chart = qa.get(f"/api/v1/quality/characteristics/{cid}")
    assert chart.status_code == 200 and chart.json()["charts"] == [] and "too large" in chart.json()["message"]
    assert qa.get("/quality").status_code == 200
