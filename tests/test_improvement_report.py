"""The before/after improvement report from known events, every figure checked against values computed by hand.

One machine M1 (product P, ideal cycle 60 s), one Day shift 06:00-14:00 (8 h planned busy time), site in UTC.

Baseline, Mon 2 - Wed 4 March 2026: good 400, 420, 380; scrap 20, 18, 22; down 13:00-14:00 each day (APT 7 h).
After, Mon 9 - Wed 11 March 2026: good 440, 450, 460; scrap 8, 10, 6; down 13:30-14:00 on the first two days.
Orders due: baseline 2 (one on time), after 3 (two on time, A3 due on the 11th at 12:00 and still open: late).
Each order released at 05:00 of its day: lead times B1 6 h, B2 7 h (mean 6.5 h); A1 5 h, A2 7 h (mean 6.0 h).
Shipped lots of orders with a due date: B1's lot shipped the day after its due date (late); A1's lot shipped an
hour after its completion, before its due date (on time).

By hand:
- output per hour = GQ / 8 h: baseline days 50, 52.5, 47.5 (period 1200 / 24 h = 50); after 55, 56.25, 57.5
  (1350 / 24 h = 56.25); change +12.5 %.  Welch: s_b^2 = 6.25, s_a^2 = 1.5625, SE = sqrt(6.25/3 + 1.5625/3) =
  1.613743; df = 2.604167^2 / (2.083333^2/2 + 0.520833^2/2) = 2.941176; difference 6.25.
- OEE = A x E x QR = (APT / PBT)(60 PQ / APT)(GQ / PQ) = 60 GQ / 28,800 s = GQ / 480 a day: the output per hour
  divided by 60, so its Welch difference is 6.25 / 60 = 0.1041667 with the same df; period 1200 / 1440 -> 1350 / 1440.
- PPM = (SQ + RQ) / PQ: baseline 60 / 1260 = 47,619.05; after 24 / 1374 = 17,467.25 (the periods' figures).
  The test is Welch's on daily PPM: baseline 20/420, 18/438, 22/402 = 47,619.05, 41,095.89, 54,726.37 (mean
  47,813.77, s^2 46,475,918.1); after 8/448, 10/460, 6/466 = 17,857.14, 21,739.13, 12,875.54 (mean 17,490.60,
  s^2 19,741,587.9); difference -30,323.17, SE = sqrt(46,475,918.1/3 + 19,741,587.9/3) = 4,698.138,
  df = 3.43937, t = -6.4543.
- order lead time: Welch on 6, 7 against 5, 7: difference -0.5, SE = sqrt(0.5/2 + 2/2) = 1.118034,
  df = 1.25^2 / (0.25^2 + 1^2) = 1.470588: not meaningful.
- on-time shipments 0/1 -> 1/1.
- first pass yield 1200 / 1260 = 0.952381 -> 1350 / 1374 = 0.982533; scrap ratio 0.047619 -> 0.017467.
- on-time completion 1/2 -> 2/3 (the open A3 is late).
- operating rate (APT / PBT): baseline 0.875 every day; after 0.9375, 0.9375, 1.0 (period 23 / 24 = 0.958333);
  Welch with s_b = 0: SE = sqrt(0.001302/3) = 0.020833, df = 2, t = 4.0 < t(0.975, 2) = 4.303: not meaningful.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone

import pytest
from sqlalchemy import insert

from shopfloor.actions.improvement_report import effect, improvement_report, improvement_xlsx, period
from shopfloor.analytics.improvement import t_quantile
from shopfloor.errors import PeriodInvalid, PeriodReversed, PeriodsOverlap, TargetKpiUnknown
from shopfloor.model.events import CountEvent, CountKind, MachineState, StateChange
from shopfloor.model.plant import Plant
from shopfloor.model.work_orders import Status
from shopfloor.store import lots
from shopfloor.store import work_orders as wo
from shopfloor.store.db import open_store
from shopfloor.store.events import append_events
from shopfloor.store.plant import load_plant, save_plant
from shopfloor.store.schema import customers, items

pytestmark = pytest.mark.usefixtures("rollup_units")

PLANT = {
    "site": {"code": "S", "name": "Test plant", "timezone": "UTC"},
    "areas": [{"code": "A", "lines": [{"code": "L", "machines": [{"code": "M1"}]}]}],
    "products": [{"code": "P", "ideal_cycle_s": 60}],
    "calendar": {"shifts": [{"name": "Day", "start": "06:00", "end": "14:00", "days": ["mon", "tue", "wed"]}]},
}
DAYS = {  # day of March: (good, scrap, down from)
    2: (400, 20, (13, 0)),
    3: (420, 18, (13, 0)),
    4: (380, 22, (13, 0)),
    9: (440, 8, (13, 30)),
    10: (450, 10, (13, 30)),
    11: (460, 6, None),
}


def at(day: int, h: int, m: int = 0) -> datetime:
    return datetime(2026, 3, day, h, m, tzinfo=timezone.utc)


def fill(engine) -> Plant:
    """The plant, its events and its work orders of the two periods compared, stored in ``engine``."""
    S = MachineState
    with engine.begin() as conn:
        save_plant(conn, Plant.from_dict(PLANT), "t")
        plant = load_plant(conn)
        events = []
        for day, (good, scrap, down) in DAYS.items():
            events += [
                StateChange(at(day, 6), "M1", S.RUNNING),
                CountEvent(at(day, 10), "M1", CountKind.GOOD, good, product="P"),
                CountEvent(at(day, 10, 5), "M1", CountKind.SCRAP, scrap, product="P", reason="BURR"),
                StateChange(at(day, 14), "M1", S.IDLE),
            ]
            if down:
                events.append(StateChange(at(day, *down), "M1", S.DOWN, reason="JAM"))
        append_events(conn, events)
        for code, day, due_h, done_h in (("B1", 2, 12, 11), ("B2", 3, 9, 12), ("A1", 9, 12, 10), ("A2", 10, 13, 12)):
            wo.create(conn, plant, code, "P", 100, "p", machine="M1", due=at(day, due_h))
            wo.transition(conn, code, Status.RELEASED, "p", at=at(day, 5))
            wo.transition(conn, code, Status.IN_PROGRESS, "p", at=at(day, 6))
            wo.transition(conn, code, Status.COMPLETED, "p", at=at(day, done_h))
        wo.create(conn, plant, "A3", "P", 100, "p", machine="M1", due=at(11, 12))
        wo.transition(conn, "A3", Status.RELEASED, "p", at=at(11, 5))
        conn.execute(insert(items).values(code="P", name="P", kind="finished", unit="pcs"))
        conn.execute(insert(customers).values(code="C", name="Customer"))
        for order, made, shipped in (("B1", at(2, 11), at(3, 9)), ("A1", at(9, 10), at(9, 11))):
            lot = lots.produce(conn, order, 100, "p", at=made)
            lots.ship(conn, lot.code, None, "C", "p", shipment=f"DN-{order}", at=shipped)
    return plant


@pytest.fixture
def store(tmp_path):
    engine = open_store(str(tmp_path / "i.db"))
    yield engine, fill(engine)
    engine.dispose()


def test_every_figure_of_the_improvement_report(store):
    engine, plant = store
    with engine.connect() as conn:
        doc = improvement_report(
            conn,
            plant,
            period(plant, "2026-03-02..2026-03-04"),
            period(plant, "2026-03-09..2026-03-11"),
            targets={"ppm": 20_000, "output_per_hour": 60},
            now=at(20, 0),
        )
    k = {r["kpi"]: r for r in doc["kpis"]}
    assert doc["baseline"]["days"] == 3 and doc["after"]["days"] == 3

    out = k["output_per_hour"]
    assert (out["before"], out["after"]) == (pytest.approx(50.0), pytest.approx(56.25))
    assert out["change_pct"] == pytest.approx(12.5)
    assert [d["value"] for d in out["daily_before"]] == pytest.approx([50, 52.5, 47.5])
    test = out["test"]
    assert test["std_error"] == pytest.approx(1.613743, abs=1e-6) and test["df"] == pytest.approx(2.941176, abs=1e-6)
    half = t_quantile(0.975, 2.941176) * 1.613743
    assert (test["ci_low"], test["ci_high"]) == (
        pytest.approx(6.25 - half, abs=1e-4),
        pytest.approx(6.25 + half, abs=1e-4),
    )
    assert out["significant"] is True and out["improved"] is True and out["target_met"] is False

    oee = k["oee"]
    assert (oee["before"], oee["after"]) == (pytest.approx(1200 / 1440), pytest.approx(1350 / 1440))
    assert oee["test"]["difference"] == pytest.approx(6.25 / 60) and oee["test"]["df"] == pytest.approx(2.941176)

    ppm = k["ppm"]
    assert (ppm["before"], ppm["after"]) == (pytest.approx(47_619.05, abs=0.01), pytest.approx(17_467.25, abs=0.01))
    assert ppm["test"]["method"] == "Welch t-test on daily values"
    assert ppm["test"]["difference"] == pytest.approx(-30_323.17, abs=0.01)
    assert ppm["test"]["std_error"] == pytest.approx(4_698.138, abs=1e-3)
    assert ppm["test"]["df"] == pytest.approx(3.43937, abs=1e-5)
    assert ppm["test"]["t_statistic"] == pytest.approx(-6.4543, abs=1e-4)
    assert ppm["improved"] is True and ppm["target_met"] is True and ppm["verdict"] == "improved"
    assert "-30,323 PPM" in effect(ppm) and "95 % CI" in effect(ppm)
    assert k["first_pass_yield"]["before"] == pytest.approx(1200 / 1260) and k["first_pass_yield"]["improved"]
    assert k["scrap_ratio"]["after"] == pytest.approx(24 / 1374)
    on_time = k["on_time_delivery"]
    assert (on_time["before"], on_time["after"]) == (0.5, pytest.approx(2 / 3)) and on_time["significant"] is False
    assert (doc["after"]["orders_due"], doc["after"]["orders_on_time"]) == (3, 2)
    lead = k["order_lead_time"]
    assert (lead["before"], lead["after"]) == (pytest.approx(6.5), pytest.approx(6.0))
    assert lead["test"]["std_error"] == pytest.approx(1.118034, abs=1e-6)
    assert lead["test"]["df"] == pytest.approx(1.470588, abs=1e-6) and lead["verdict"] == "no meaningful change"
    shipped = k["shipments_on_time"]
    assert (shipped["before"], shipped["after"]) == (0.0, 1.0)

    rate = k["operating_rate"]
    assert (rate["before"], rate["after"]) == (pytest.approx(0.875), pytest.approx(23 / 24))
    assert rate["test"]["std_error"] == pytest.approx(math.sqrt(0.001302083 / 3), abs=1e-6)
    assert rate["test"]["df"] == pytest.approx(2.0) and rate["significant"] is False and rate["improved"] is False


def test_performance_above_100_percent_is_flagged_in_the_report_the_pdf_and_the_workbook(store):
    """By hand: the ideal cycle is 60 s.  On 3 March 438 units came from 7 h running (26,280 s of ideal time in
    25,200 s), on 10 March 460 units from 7.5 h (27,600 s in 27,000 s).  Each period as a whole stays at or under
    100 %: 1,260 units in 21 h (75,600 s in 75,600 s) and 1,374 units in 23 h (82,440 s in 82,800 s)."""
    import io
    from html import escape

    from openpyxl import load_workbook

    from shopfloor.actions.improvement_report import improvement_html
    from shopfloor.analytics.kpi import OVER_100_CAUSE

    engine, plant = store
    with engine.connect() as conn:
        doc = improvement_report(
            conn, plant, period(plant, "2026-03-02..2026-03-04"), period(plant, "2026-03-09..2026-03-11")
        )
    b, a = doc["baseline"], doc["after"]
    assert (b["over_100"], b["days_over_100"]) == (False, ["2026-03-03"])
    assert (a["over_100"], a["days_over_100"]) == (False, ["2026-03-10"])
    html = improvement_html(doc)
    assert html.count(escape(OVER_100_CAUSE)) == 2 and "2026-03-03" in html and "2026-03-10" in html
    periods = load_workbook(io.BytesIO(improvement_xlsx(doc)))["Periods"]
    assert periods["G1"].value == "Performance above 100 %"
    assert "2026-03-03" in periods["G2"].value and "2026-03-10" in periods["G3"].value


def test_periods_and_targets_are_checked(store):
    engine, plant = store
    with pytest.raises(PeriodInvalid):
        period(plant, "2026-03-02")
    with pytest.raises(PeriodReversed):
        period(plant, "2026-03-09..2026-03-02")
    with engine.connect() as conn:
        with pytest.raises(PeriodsOverlap):
            improvement_report(
                conn, plant, period(plant, "2026-03-02..2026-03-10"), period(plant, "2026-03-09..2026-03-11")
            )
        with pytest.raises(TargetKpiUnknown, match="unknown KPI in targets: speed"):
            improvement_report(
                conn, plant, period(plant, "2026-03-02..2026-03-04"), period(plant, "2026-03-09..2026-03-11"),
                targets={"speed": 1},
            )  # fmt: skip


def test_the_report_as_excel_pdf_and_on_the_command_line(store):
    import io
    import json

    from openpyxl import load_workbook
    from pypdf import PdfReader
    from typer.testing import CliRunner

    from shopfloor.actions.improvement_report import improvement_pdf
    from shopfloor.cli import app
    from shopfloor.i18n import Translator
    from shopfloor.reports.pdf import missing_glyphs

    engine, plant = store
    with engine.connect() as conn:
        doc = improvement_report(
            conn, plant, period(plant, "2026-03-02..2026-03-04"), period(plant, "2026-03-09..2026-03-11")
        )
    wb = load_workbook(io.BytesIO(improvement_xlsx(doc)))
    assert wb.sheetnames == ["KPIs", "Daily values", "Periods"]
    # 10 KPIs; 7 daily KPIs x 6 days (labour productivity without sign-ins: days without a value) and 4 orders'
    # lead times
    assert wb["KPIs"].max_row == 1 + 10 and wb["Daily values"].max_row == 1 + 7 * 6 + 4
    ko = Translator("ko", plant.site.tz)
    ko_wb = load_workbook(io.BytesIO(improvement_xlsx(doc, ko.gettext)))
    assert ko_wb.sheetnames == ["핵심 지표", "일별 값", "기간"] and ko_wb["기간"]["A1"].value == "기간"
    pdf = improvement_pdf(doc, ko.gettext)
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "개선 성과 보고서" in text and missing_glyphs(pdf) == []
    db = str(engine.url).removeprefix("sqlite:///")
    result = CliRunner().invoke(
        app,
        ["report", "improvement", "--baseline", "2026-03-02..2026-03-04", "--after", "2026-03-09..2026-03-11",
         "--target", "ppm=20000", "--json", "--db", db],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    printed = {r["kpi"]: r for r in json.loads(result.stdout)["kpis"]}
    assert printed["ppm"]["target_met"] is True and printed["output_per_hour"]["after"] == pytest.approx(56.25)


def test_the_page_runs_the_report_in_the_background_and_shows_its_progress(store):
    import re

    from fastapi.testclient import TestClient

    from shopfloor.actions.jobs import wait_for
    from shopfloor.app import create_app
    from shopfloor.settings import Settings
    from shopfloor.store import accounts, jobs
    from tests.web.test_pages import refusal_shown

    engine, _ = store
    with engine.begin() as conn:
        accounts.create_user(conn, "boss", "manager", password="boss-password-1")
        accounts.create_user(conn, "other", "manager", password="other-password-1")
    app = create_app(Settings(), engine=engine)
    client = TestClient(app)
    client.post("/login", data={"username": "boss", "password": "boss-password-1", "next": "/"})
    form = client.get("/reports/improvement")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    bad = client.post("/reports/improvement", data={"baseline": "x", "after": "y", "csrf_token": token})
    assert bad.status_code == 422 and refusal_shown(PeriodInvalid(period="x"), "en") in bad.text
    started = client.post(
        "/reports/improvement",
        data={"baseline": "2026-03-02..2026-03-04", "after": "2026-03-09..2026-03-11", "csrf_token": token},
        follow_redirects=False,
    )
    job_url = started.headers["location"]
    job_id = job_url.rsplit("/", 1)[1]
    wait_for(job_id, timeout=60)
    with engine.connect() as conn:
        job = jobs.get(conn, job_id, accounts.by_username(conn, "boss").id)
    assert (job.state, job.done, job.total) == ("finished", 12, 12)  # each step of progress was kept
    assert client.get(job_url + "/progress").headers["HX-Redirect"] == job_url
    page = client.get(job_url)
    assert "+12.5 %" in page.text and "<svg" in page.text
    assert client.get(job_url + "/file.pdf").content.startswith(b"%PDF")
    other = TestClient(app)
    other.post("/login", data={"username": "other", "password": "other-password-1", "next": "/"})
    assert other.get(job_url).status_code == 404  # a run is seen only by who started it
    api = client.get(
        "/api/v1/reports/improvement",
        params={"baseline": "2026-03-02..2026-03-04", "after": "2026-03-09..2026-03-11", "target": "ppm=20000"},
    ).json()
    assert {r["kpi"]: r for r in api["kpis"]}["ppm"]["target_met"] is True
