"""Master data over the API and on its page: export, import refused whole with its cells, BOM explosion."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from tests.lots_data import add_master_data
from tests.web.test_pages import csrf_of, page_login


@pytest.fixture
def master_app(app):
    with app.state.engine.begin() as conn:
        add_master_data(conn, with_plant=False)
    return app


def _workbook(client) -> io.BytesIO:
    r = client.get("/api/v1/master/export", params={"format": "xlsx"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.openxmlformats")
    return io.BytesIO(r.content)


def test_import_is_for_managers_and_names_every_bad_cell(master_app, as_role):
    manager, operator = as_role("manager"), as_role("operator")
    wb = load_workbook(_workbook(operator))
    wb["bom"].append(["SHELL", "NOPE", 2, 0])
    wb["locations"].append(["DOCK", "Shipping dock", "harbour"])
    out = io.BytesIO()
    wb.save(out)
    files = {"file": ("master.xlsx", out.getvalue(), "application/octet-stream")}
    assert operator.post("/api/v1/master/import", files=files).status_code == 403
    refused = manager.post("/api/v1/master/import", files=files)
    assert refused.status_code == 422
    problems = refused.json()["problems"]
    assert {(p["sheet"], p["column"]) for p in problems} >= {("bom", "component"), ("locations", "kind")}
    assert all(p["row"] >= 2 for p in problems)
    assert "DOCK" not in {loc["code"] for loc in manager.get("/api/v1/master").json()["locations"]}
    wb["bom"].delete_rows(wb["bom"].max_row)
    wb["locations"].cell(wb["locations"].max_row, 3).value = "shipping"
    out = io.BytesIO()
    wb.save(out)
    ok = manager.post("/api/v1/master/import", files={"file": ("master.xlsx", out.getvalue(), "application/x")})
    assert ok.status_code == 200, ok.text
    assert "DOCK" in {loc["code"] for loc in manager.get("/api/v1/master").json()["locations"]}


def test_requirements_explode_the_bom_with_scrap(master_app, as_role):
    r = as_role("operator").get("/api/v1/items/DRUM-A/requirements", params={"qty": 10})
    assert r.status_code == 200
    totals = r.json()["totals"]
    # DRUM-A -> DRUM (1) -> SHELL (1) -> COIL (2.5, 2 % scrap); DRUM -> WIRE (0.2, 5 % scrap)
    assert totals["COIL"] == pytest.approx(10 * 1 * 1 * 2.5 * 1.02)
    assert totals["WIRE"] == pytest.approx(10 * 1 * 0.2 * 1.05)
    assert as_role("operator").get("/api/v1/items/NOPE/requirements").status_code == 404


def test_master_page_shows_problems_of_an_upload(master_app):
    client = page_login(master_app, "admin")
    page = client.get("/master")
    assert page.status_code == 200 and "COIL" in page.text
    bad_csv = b"code,name,kind,unit\nBOLT,Bolt,gadget,pcs\n"
    r = client.post(
        "/master/import",
        data={"csrf_token": csrf_of(page.text)},
        files={"file": ("items.csv", bad_csv, "text/csv")},
    )
    assert r.status_code == 422 and "gadget" in r.text and "<td>items</td><td>2</td><td>kind</td>" in r.text
