"""In Debian's chromium: a supervisor creates a work order, releases it, corrects it (a refusal first, shown in
Korean with the values as typed), imports an ERP file (previewed with a problem, then corrected and created), in
Korean.  Screenshots in artefacts/screenshots/."""

import re

from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.web.test_browser import TABLET, artefacts, browser, sqlite_only  # noqa: F401 - fixtures


def test_a_supervisor_plans_orders_in_the_browser(sqlite_only, live_server, browser, tmp_path):  # noqa: F811
    base = live_server
    page = browser.new_context(viewport=TABLET).new_page()
    page.goto(f"{base}/login?next=/work-orders")
    page.fill("input[name=username]", "supervisor")
    page.fill("input[name=password]", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(f"{base}/work-orders")
    new = page.locator("#new form")
    new.locator("input[name=code]").fill("WO-777")
    new.locator("input[name=product]").fill("DRUM-A")
    new.locator("input[name=quantity]").fill("120")
    new.locator("select[name=machine]").select_option("WLD-01")
    new.locator("input[name=due]").fill("2026-12-10")
    new.locator("button[type=submit]").click()
    page.wait_for_url(f"{base}/work-orders/WO-777")
    page.click("button[data-to=released]")
    expect(page.locator("h1 .badge")).to_have_class(re.compile("released"))
    page.screenshot(path=str(artefacts() / "work-order-ko.png"), full_page=True)

    edit = page.locator("#edit form")
    expect(edit.locator("input[name=quantity]")).to_have_value("120")
    expect(edit.locator("select[name=machine]")).to_have_value("WLD-01")
    edit.locator("input[name=product]").fill("NOPE")
    edit.locator("button[type=submit]").click()
    expect(page.locator("[role=alert]")).to_contain_text("NOPE")
    assert "unknown product" not in page.inner_text("[role=alert]")
    expect(page.locator("#edit input[name=product]")).to_have_value("NOPE")  # shown again as typed
    page.screenshot(path=str(artefacts() / "work-order-edit-refused-ko.png"), full_page=True)
    page.locator("#edit input[name=product]").fill("TM-CASE")
    page.locator("#edit input[name=quantity]").fill("150")
    page.locator("#edit button[type=submit]").click()
    page.wait_for_url(f"{base}/work-orders/WO-777?saved=1")
    expect(page.locator("[role=status]")).to_be_visible()
    expect(page.locator("dl.facts")).to_contain_text("TM-CASE")
    expect(page.locator("dl.facts")).to_contain_text("150")
    expect(page.locator("section", has_text="이력")).to_contain_text("변경: 제품 DRUM-A → TM-CASE, 수량 120 → 150")
    page.screenshot(path=str(artefacts() / "work-order-edit-ko.png"), full_page=True)

    bad = tmp_path / "erp.csv"
    bad.write_bytes(
        "작업지시번호,품목코드,지시수량,납기일\nE-1,DRUM-A,50,2026.12.10\nE-2,NOPE,5,2026.12.11\n".encode("cp949")
    )
    page.goto(f"{base}/work-orders")
    page.set_input_files("#import input[type=file]", str(bad))
    page.click("#import button[type=submit]")
    expect(page.locator("#preview tr[data-row='3'] .error")).to_contain_text("NOPE")
    assert "unknown product" not in page.inner_text("#preview")  # the problem in the page's language
    expect(page.locator("#preview button[name=commit]")).to_have_count(0)
    page.screenshot(path=str(artefacts() / "work-orders-import-ko.png"), full_page=True)
    good = tmp_path / "erp2.csv"
    good.write_bytes(
        "작업지시번호,품목코드,지시수량,납기일\nE-1,DRUM-A,50,2026.12.10\nE-2,TM-CASE,5,2026.12.11\n".encode("cp949")
    )
    page.set_input_files("#import input[type=file]", str(good))
    page.click("#import button[type=submit]")
    page.click("#preview button[name=commit]")
    expect(page.locator("table.orders")).to_contain_text("E-2")
    page.screenshot(path=str(artefacts() / "work-orders-ko.png"), full_page=True)
