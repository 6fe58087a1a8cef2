"""The production report of one day, every figure checked against values computed by hand from known events.

Plant: site in UTC, one line L with machines M1 and M2 (product P, ideal cycle 60 s on both), one Day shift
06:00-14:00 with no break.  On 2026-03-02:

M1: running 06:00-10:00 (4 h), down 10:00-11:00 (1 h, reason JAM), running 11:00-14:00 (3 h); counts: good 400,
    scrap 20 (code BURR), rework 0.
M2: running 06:00-08:00 (2 h), idle 08:00-14:00 (6 h, reason NO_MATERIAL); counts: good 100, scrap 10 (code CRACK).

By hand (PBT = planned busy time, 8 h = 28,800 s per machine):
  M1: APT 7 h = 25,200 s; A = 7/8 = 0.875; PQ 420, ideal time 420 x 60 = 25,200 s, E = 25,200/25,200 = 1.0;
      Q = 400/420 = 0.952381; OEE = 0.875 x 1.0 x 0.952381 = 0.833333.
  M2: APT 2 h = 7,200 s; A = 0.25; PQ 110, ideal 6,600 s, E = 6,600/7,200 = 0.916667; Q = 100/110 = 0.909091;
      OEE = 0.25 x 0.916667 x 0.909091 = 0.208333.
  Line: PBT 57,600 s, APT 32,400 s, A = 0.5625; ideal 31,800 s, E = 31,800/32,400 = 0.981481; Q = 500/530 =
      0.943396; OEE = 0.5625 x 0.981481 x 0.943396 = 0.520833; scrap 30, scrap ratio 30/530 = 0.056604;
      PPM = 30/530 x 1e6 = 56,603.77.
  Capacity at ideal rate: 2 x 28,800 / 60 = 960.  Downtime Pareto: NO_MATERIAL 360 min, JAM 60 min.
  Plan: order WO-1 (300 of P on M1, due 2026-03-02 12:00) completed at 13:00 (late); WO-2 (200 on M2, due
  2026-03-02 09:00) still in progress: planned 500, one order finished.
"""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from shopfloor.actions.production_report import production_report, report_window, report_xlsx
from shopfloor.errors import ShiftNotOnDay
from shopfloor.model.events import CountEvent, CountKind, MachineState, StateChange
from shopfloor.model.plant import Plant
from shopfloor.model.work_orders import Status
from shopfloor.store import work_orders as wo
from shopfloor.store.db import open_store
from shopfloor.store.events import append_events
from shopfloor.store.plant import load_plant, save_plant

pytestmark = pytest.mark.usefixtures("rollup_units")

PLANT = {
    "site": {"code": "S", "name": "Test plant", "timezone": "UTC"},
    "areas": [{"code": "A", "lines": [{"code": "L", "machines": [{"code": "M1"}, {"code": "M2"}]}]}],
    "products": [{"code": "P", "ideal_cycle_s": 60}],
    "calendar": {"shifts": [{"name": "Day", "start": "06:00", "end": "14:00"}]},
}


def at(h: int, m: int = 0) -> datetime:
    return datetime(2026, 3, 2, h, m, tzinfo=timezone.utc)


@pytest.fixture
def report_store(tmp_path):
    engine = open_store(str(tmp_path / "r.db"))
    with engine.begin() as conn:
        save_plant(conn, Plant.from_dict(PLANT), "t")
        plant = load_plant(conn)
        S = MachineState
        append_events(
            conn,
            [
                StateChange(at(6), "M1", S.RUNNING),
                StateChange(at(10), "M1", S.DOWN, reason="JAM"),
                StateChange(at(11), "M1", S.RUNNING),
                CountEvent(at(9), "M1", CountKind.GOOD, 400, product="P"),
                CountEvent(at(12), "M1", CountKind.SCRAP, 20, product="P", reason="BURR"),
                StateChange(at(6), "M2", S.RUNNING),
                StateChange(at(8), "M2", S.IDLE, reason="NO_MATERIAL"),
                CountEvent(at(7), "M2", CountKind.GOOD, 100, product="P"),
                CountEvent(at(7, 30), "M2", CountKind.SCRAP, 10, product="P", reason="CRACK"),
                StateChange(at(14), "M1", S.IDLE),
                StateChange(at(14), "M2", S.IDLE),
            ],
        )
        wo.create(conn, plant, "WO-1", "P", 300, "p", machine="M1", due=at(12))
        wo.create(conn, plant, "WO-2", "P", 200, "p", machine="M2", due=at(9))
        for code in ("WO-1", "WO-2"):
            wo.transition(conn, code, Status.RELEASED, "p", at=at(5))
            wo.transition(conn, code, Status.IN_PROGRESS, "p", at=at(6))
        wo.transition(conn, "WO-1", Status.COMPLETED, "p", at=at(13))
    yield engine, plant
    engine.dispose()


def test_every_figure_of_the_day_report(report_store):
    engine, plant = report_store
    with engine.connect() as conn:
        doc = production_report(conn, plant, report_window(plant, date(2026, 3, 2)), now=at(23))
    k = doc["kpi"]
    assert k["pbt_s"] == 57_600 and k["apt_s"] == 32_400
    assert k["availability"] == pytest.approx(0.5625)
    assert k["effectiveness"] == pytest.approx(31_800 / 32_400, abs=1e-6)
    assert k["quality_ratio"] == pytest.approx(500 / 530, abs=1e-6)
    assert k["oee"] == pytest.approx(0.5625 * 31_800 / 32_400 * 500 / 530, abs=1e-6)
    assert k["ppm"] == pytest.approx(30 / 530 * 1e6, abs=0.01)
    machines = {m["machine"]: m for m in doc["machines"]}
    assert machines["M1"]["oee"] == pytest.approx(0.875 * 1.0 * 400 / 420, abs=1e-6)
    assert machines["M2"]["oee"] == pytest.approx(0.25 * 6_600 / 7_200 * 100 / 110, abs=1e-6)
    assert machines["M2"]["product"] == "P"
    assert doc["plan"] == {"orders_due": 2, "planned_qty": 500, "capacity_qty": 960, "output_qty": 500}
    assert doc["scrap"] == {"qty": 30, "ratio": pytest.approx(30 / 530, abs=1e-6)}
    assert [(d["category"], d["value"]) for d in doc["downtime"]] == [("NO_MATERIAL", 21_600), ("JAM", 3_600)]
    assert [(d["key"], d["scrap"]) for d in doc["defects"]] == [("BURR", 20), ("CRACK", 10)]
    assert [(o["code"], o["on_time"]) for o in doc["orders_finished"]] == [("WO-1", False)]
    assert [s["bucket"] for s in doc["shifts"]] == ["2026-03-02/Day"]


def test_the_shift_window_and_an_unknown_shift(report_store):
    _, plant = report_store
    assert report_window(plant, date(2026, 3, 2), "Day").start == at(6)
    with pytest.raises(ShiftNotOnDay, match="no Night shift on 2026-03-02 \\(shifts: Day\\)"):
        report_window(plant, date(2026, 3, 2), "Night")


def test_the_workbook_holds_every_section(report_store):
    import io

    from openpyxl import load_workbook

    engine, plant = report_store
    with engine.connect() as conn:
        doc = production_report(conn, plant, report_window(plant, date(2026, 3, 2)), now=at(23))
    wb = load_workbook(io.BytesIO(report_xlsx(doc)))
    assert wb.sheetnames == ["Summary", "Machines", "Shifts", "Downtime", "Defects", "Orders"]
    assert wb["Summary"]["B3"].value == 500
    # in Korean: sheet names and headers of the catalog; times in the site's zone, named in the header
    from shopfloor.i18n import Translator

    ko = load_workbook(io.BytesIO(report_xlsx(doc, Translator("ko", plant.site.tz).gettext)))
    assert ko.sheetnames == ["요약", "설비", "근무조", "비가동", "불량", "작업지시"]
    assert [c.value for c in ko["설비"][1]][:3] == ["설비", "제품", "부분 기간"]
    assert ko["근무조"]["B1"].value == "시작 (UTC)"


def test_the_workbook_shows_times_in_the_site_zone_it_names(report_store):
    """The same day for a site in Asia/Seoul (UTC+9, no daylight saving): the window 2026-03-02 00:00 UTC ..
    2026-03-03 00:00 UTC is 09:00 .. 09:00 local; the Day shift bucket 06:00-14:00 UTC is 15:00-23:00 local."""
    import io

    from openpyxl import load_workbook

    engine, plant = report_store
    with engine.connect() as conn:
        doc = production_report(conn, plant, report_window(plant, date(2026, 3, 2)), now=at(23))
    doc["timezone"] = "Asia/Seoul"
    wb = load_workbook(io.BytesIO(report_xlsx(doc)))
    assert wb["Summary"]["B1"].value == "2026-03-02 09:00 .. 2026-03-03 09:00 (Asia/Seoul)"
    shifts = wb["Shifts"]
    assert (shifts["B1"].value, shifts["C1"].value) == ("From (Asia/Seoul)", "To (Asia/Seoul)")
    day = [r for r in shifts.iter_rows(min_row=2, values_only=True) if r[1] == "2026-03-02 15:00"]
    assert day and day[0][2] == "2026-03-02 23:00"


def test_report_over_the_api_page_and_command_line(report_store, tmp_path):
    import io

    from fastapi.testclient import TestClient
    from pypdf import PdfReader
    from typer.testing import CliRunner

    from shopfloor.app import create_app
    from shopfloor.cli import app as cli
    from shopfloor.reports.pdf import missing_glyphs
    from shopfloor.settings import Settings
    from shopfloor.store import accounts

    engine, _ = report_store
    with engine.begin() as conn:
        accounts.create_user(conn, "boss", "manager", password="boss-password-1")
    client = TestClient(create_app(Settings(), engine=engine))
    assert client.get("/api/v1/reports/production", params={"day": "2026-03-02"}).status_code == 401
    client.post("/login", data={"username": "boss", "password": "boss-password-1", "next": "/reports"})
    doc = client.get("/api/v1/reports/production", params={"day": "2026-03-02", "line": "L"}).json()
    assert doc["plan"]["output_qty"] == 500
    pdf = client.get("/api/v1/reports/production", params={"day": "2026-03-02", "format": "pdf", "lang": "ko"})
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "생산 일보" in text and "주요 비가동 사유" in text and "NO_MATERIAL" in text
    assert missing_glyphs(pdf.content) == []
    vi = client.get("/api/v1/reports/production", params={"day": "2026-03-02", "format": "pdf", "lang": "vi"})
    assert "Báo cáo sản xuất" in "".join(p.extract_text() for p in PdfReader(io.BytesIO(vi.content)).pages)
    assert missing_glyphs(vi.content) == []
    bad = client.get("/api/v1/reports/production", params={"day": "2026-03-02", "shift": "Night"})
    assert (bad.status_code, bad.json()["code"]) == (422, "report.shift_not_on_day")
    page = client.get("/reports", params={"day": "2026-03-02"})
    assert page.status_code == 200 and "NO_MATERIAL" in page.text and "WO-1" in page.text
    db = str(engine.url).removeprefix("sqlite:///")
    result = CliRunner().invoke(cli, ["report", "production", "--day", "2026-03-02", "--json", "--db", db])
    assert result.exit_code == 0, result.output
    assert '"output_qty": 500' in result.stdout
