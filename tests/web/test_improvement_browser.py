"""In Debian's chromium (Playwright): the improvement report of the demo's own data, page, PDF and Excel, in
Korean, English and Vietnamese.  The demo has no finished orders, which is the normal case of a sponsor's first
look: the page must show "no data" for the order figures, never fail.  Screenshots in artefacts/screenshots/."""

from __future__ import annotations

import io
from datetime import datetime, timedelta

from openpyxl import load_workbook
from pypdf import PdfReader

from shopfloor.actions.demo import last_working_day, load_demo, load_history
from shopfloor.model.calendar import local_days
from shopfloor.reports.pdf import missing_glyphs
from shopfloor.store.plant import load_plant
from tests.conftest import PASSWORD
from tests.web.test_browser import TABLET, artefacts, browser, sqlite_only  # noqa: F401 (fixtures)

EXPECTED = {  # language: (page title, "no data", sheet names of the workbook)
    "ko": ("개선 성과 보고서", "데이터 없음", ["핵심 지표", "일별 값", "기간"]),
    "en": ("Improvement report", "no data", ["KPIs", "Daily values", "Periods"]),
    "vi": ("Báo cáo cải tiến", "không có dữ liệu", ["Chỉ số KPI", "Giá trị theo ngày", "Các kỳ"]),
}


def test_improvement_page_pdf_and_excel_of_the_demo_in_three_languages(
    sqlite_only,  # noqa: F811 (the fixture)
    engine,
    live_server,
    browser,  # noqa: F811 (the fixture)
):
    demo = load_demo(engine)
    with engine.connect() as conn:
        plant = load_plant(conn)
    after_day = datetime.fromisoformat(demo["day"]).date()
    before_day = last_working_day(plant, after_day - timedelta(days=6))
    load_history(engine, plant, local_days(before_day, before_day + timedelta(days=1), plant.site.tz), seed=11)
    for lang, (title, no_data, sheets) in EXPECTED.items():
        ctx = browser.new_context(viewport=TABLET)
        ctx.add_cookies([{"name": "sf_lang", "value": lang, "url": live_server}])
        page = ctx.new_page()
        page.goto(f"{live_server}/login?next=/reports/improvement")
        page.fill("input[name=username]", "manager")
        page.fill("input[name=password]", PASSWORD)
        page.click("form[action='/login'] button[type=submit]")
        page.wait_for_selector("form[action='/reports/improvement']")
        page.fill("input[name=baseline]", f"{before_day}..{before_day}")
        page.fill("input[name=after]", f"{after_day}..{after_day}")
        page.click("form[action='/reports/improvement'] button[type=submit]")
        page.wait_for_selector("table.improvement", timeout=120_000)
        assert page.get_attribute("html", "lang") == lang
        text = page.inner_text("main")
        assert title in text
        # the order figures of a demo without finished orders: no data, shown as such
        rows = [r.inner_text() for r in page.query_selector_all("table.improvement tbody tr")]
        assert len(rows) == 10 and any(no_data in r for r in rows)
        page.screenshot(path=str(artefacts() / f"improvement-demo-{lang}.png"), full_page=True)
        base = page.url
        pdf = page.request.get(base + "/file.pdf")
        assert pdf.status == 200 and pdf.body().startswith(b"%PDF")
        pdf_text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.body())).pages)
        assert title in pdf_text and missing_glyphs(pdf.body()) == []
        # the periods as the site's local days (the demo is in Asia/Seoul: no day earlier in UTC)
        assert f"{before_day} – {before_day}" in pdf_text and f"{after_day} – {after_day}" in pdf_text
        xlsx = page.request.get(base + "/file.xlsx")
        assert xlsx.status == 200
        wb = load_workbook(io.BytesIO(xlsx.body()))
        assert wb.sheetnames == sheets
        assert wb[sheets[2]]["B2"].value == before_day.isoformat()
        assert wb[sheets[2]]["D2"].value == "Asia/Seoul"
        ctx.close()
