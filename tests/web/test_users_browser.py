"""In Debian's chromium (Playwright): an administrator gives an operator a badge, prints it, and deactivates the
operator, whose terminal session ends at the next request; screenshots of the users page and the badge."""

from urllib.parse import urlsplit

from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.web.test_browser import TABLET, artefacts, browser, sqlite_only  # noqa: F401  (fixtures)


def test_an_administrator_manages_an_operator_in_korean(sqlite_only, live_server, browser):  # noqa: F811
    base = live_server
    host = urlsplit(base).netloc
    foreign: list[str] = []

    term = browser.new_context(viewport=TABLET).new_page()
    term.goto(f"{base}/terminal/login")
    term.fill("#who", "B-1001")
    for digit in "4821":
        term.click(f".keypad [data-key='{digit}']")
    term.click(".keypad [data-key='OK']")
    term.wait_for_url(f"{base}/terminal")

    page = browser.new_context(viewport=TABLET).new_page()
    page.on("request", lambda r: foreign.append(r.url) if urlsplit(r.url).netloc != host else None)
    page.goto(f"{base}/login?next=/admin/users")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(f"{base}/admin/users")
    assert page.get_attribute("html", "lang") == "ko"  # the sample plant is in Seoul
    row = page.locator("tr[data-user='op-pin']")
    expect(row).to_contain_text("B-1001")
    expect(row.locator("td").nth(6)).to_have_text("1")  # the terminal's session

    row.locator("summary").click()
    row.locator("input[name=badge]").fill("OP-0042")
    row.locator("form[action$='/op-pin'] button[type=submit]").click()
    expect(page.locator("p.status.ok")).to_have_text("변경 내용을 저장했습니다.")
    page.screenshot(path=str(artefacts() / "admin-users-ko.png"), full_page=True)

    page.click("a:has-text('OP-0042')")
    expect(page.locator(".badge-barcode svg")).to_have_attribute("aria-label", "Code 128: OP-0042")
    page.screenshot(path=str(artefacts() / "badge-print.png"))
    page.emulate_media(media="print")
    expect(page.locator("header.top")).to_be_hidden()
    page.emulate_media(media="screen")

    page.goto(f"{base}/admin/users")
    row = page.locator("tr[data-user='op-pin']")
    row.locator("summary").click()
    row.locator("input[name=reason]").fill("퇴사")
    row.locator("button.danger").click()
    expect(page.locator("p.status.ok")).to_contain_text("비활성화")
    expect(page.locator("tr[data-user='op-pin']")).to_have_class("inactive")
    expect(page.locator("tr[data-user='op-pin'] td").nth(6)).to_have_text("0")
    page.screenshot(path=str(artefacts() / "admin-users-deactivated-ko.png"), full_page=True)

    term.reload()  # the operator's session ended with the deactivation
    term.wait_for_url(f"{base}/terminal/login")
    assert foreign == []
