"""In Debian's chromium (Playwright): an operator reports a count and a scrap, the board updates live, the
language switches to Vietnamese and Korean, no request leaves the machine; screenshots at tablet size.

Screenshots go to artefacts/screenshots/ (override with SHOPFLOOR_ARTEFACTS)."""

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect, sync_playwright

from shopfloor.errors import DefectUnknown, LotActionNotAllowed
from shopfloor.i18n import error_message
from tests.conftest import PASSWORD, REPO

CHROMIUM = "/usr/bin/chromium"
TABLET = {"width": 1280, "height": 800}
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed (./run setup)")


@pytest.fixture
def browser():
    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
            ],
        )
        yield b
        b.close()


def artefacts() -> Path:
    path = Path(os.environ.get("SHOPFLOOR_ARTEFACTS", REPO / "artefacts")) / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def sqlite_only(request):
    if "postgresql" in request.node.callspec.id:
        pytest.skip("browser tests run once, on SQLite; the API they use is tested on both stores")


def test_operator_reports_and_the_board_follows_in_three_languages(sqlite_only, live_server, browser):
    base = live_server
    host = urlsplit(base).netloc
    foreign: list[str] = []

    def watch(page):
        page.on(
            "request",
            lambda req: foreign.append(req.url)
            if urlsplit(req.url).netloc != host and not req.url.startswith("data:")
            else None,
        )

    board_ctx = browser.new_context(viewport=TABLET)
    board = board_ctx.new_page()
    watch(board)
    board.goto(f"{base}/login?next=/board")
    board.fill("input[name=username]", "supervisor")
    board.fill("input[name=password]", PASSWORD)
    board.click("form[action='/login'] button[type=submit]")
    board.wait_for_selector("#tile-WLD-01")
    before = board.inner_text("#tile-WLD-01 .gq")

    term_ctx = browser.new_context(viewport=TABLET)
    term = term_ctx.new_page()
    watch(term)
    term.goto(f"{base}/terminal/login")
    term.fill("#who", "B-1001")
    for digit in "4821":
        term.click(f".keypad [data-key='{digit}']")
    term.click(".keypad [data-key='OK']")
    term.wait_for_url(f"{base}/terminal")
    assert term.get_attribute("html", "lang") == "vi"
    term.click("a.pick:has-text('WLD-01')")
    term.wait_for_selector("[data-action=good]")
    term.fill("#qty", "7")
    term.click("[data-action=good]")
    term.wait_for_selector("#status.ok")
    term.fill("#qty", "2")
    term.select_option("#defect", "POROSITY")
    term.click("[data-action=scrap]")
    expect(term.locator("#status")).to_contain_text("Hàng lỗi 2")  # the action's name in the operator's language
    assert term.inner_text(".sq") == "2"
    assert term.evaluate("JSON.parse(localStorage.getItem('shopfloor.pop.queue') || '[]').length") == 0

    # The board, open all along, receives the new tile over SSE.
    expect(board.locator("#tile-WLD-01 .gq")).not_to_have_text(before)
    expect(board.locator("#tile-WLD-01 .sq")).to_have_text("2")
    board.screenshot(path=str(artefacts() / "board-tablet.png"), full_page=True)
    term.screenshot(path=str(artefacts() / "terminal-tablet-vi.png"), full_page=True)

    # One tap switches the language.
    term.click("button.lang[value=ko]")
    term.wait_for_selector("html[lang=ko]")
    assert "양품 보고" in term.inner_text("[data-action=good]")
    term.screenshot(path=str(artefacts() / "terminal-tablet-ko.png"), full_page=True)
    term.click("button.lang[value=vi]")
    term.wait_for_selector("html[lang=vi]")
    assert "Báo hàng đạt" in term.inner_text("[data-action=good]")
    # A refusal is shown in the operator's language: a defect code the plant no longer has (a stale terminal).
    term.evaluate("document.getElementById('defect').add(new Option('RUST', 'RUST', true, true))")
    term.fill("#qty", "1")
    term.click("[data-action=scrap]")
    refusal = error_message(DefectUnknown(defect="RUST"), "vi")
    expect(term.locator("#status.bad")).to_have_text(f"{term.get_attribute('#pop', 'data-msg-error')}: {refusal}")

    board.goto(f"{base}/machines/WLD-01")
    board.wait_for_selector("#timeline svg")
    board.screenshot(path=str(artefacts() / "machine-tablet.png"), full_page=True)
    assert foreign == []


def test_entries_wait_in_the_browser_while_offline_and_are_sent_once(sqlite_only, live_server, browser):
    base = live_server
    ctx = browser.new_context(viewport=TABLET)
    page = ctx.new_page()
    page.goto(f"{base}/terminal/login")
    page.fill("#who", "B-1001")
    page.fill("#pin", "4821")
    page.click(".keypad [data-key='OK']")
    page.goto(f"{base}/terminal?machine=CNC-02")
    ctx.set_offline(True)
    for qty in ("3", "4"):
        page.fill("#qty", qty)
        page.click("[data-action=good]")
        page.wait_for_timeout(700)  # the button unlocks after 600 ms: two separate taps
    page.wait_for_selector("#status.queued")
    assert page.evaluate("JSON.parse(localStorage.getItem('shopfloor.pop.queue')).length") == 2
    ctx.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    expect(page.locator("#queue li")).to_have_count(0)
    page.reload()
    expect(page.locator(".gq")).to_have_text("7")


def test_operator_scans_a_lot_into_the_running_order_and_reports_an_output_lot(sqlite_only, app, live_server, browser):
    from tests.lots_data import add_master_data, start_order

    with app.state.engine.begin() as conn:
        plant = add_master_data(conn, with_plant=False)
        from shopfloor.store import lots

        lots.receive(conn, "COIL", 50, "clerk", code="COIL-77", supplier="POSCO", supplier_lot="P-77")
        lots.receive(conn, "COIL", 5, "clerk", code="COIL-HELD")
        lots.hold(conn, "COIL-HELD", "tensile test failed", "qa")
        start_order(conn, plant, "WO-77", "SHELL", machine="WLD-01")
        from shopfloor.store import inspections as insp

        char = insp.save_characteristic(
            conn,
            plant,
            {"product": "SHELL", "code": "SEAM", "name": "Seam height", "kind": "variable", "chart": "imr",
             "sample_size": 1, "lsl": 1.0, "usl": 3.0, "every_parts": 20},
        )  # fmt: skip
        for v in (2.0, 2.02, 1.98, 2.01, 1.99, 2.0):
            insp.record(conn, char, "qa", measurements_=[v], machine="WLD-01")
    base = live_server
    page = browser.new_context(viewport=TABLET).new_page()
    page.goto(f"{base}/login?next=/terminal?machine=WLD-01")
    page.fill("input[name=username]", "operator")
    page.fill("input[name=password]", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_selector("#material")
    page.fill("#lot-code", "COIL-HELD")
    page.press("#lot-code", "Enter")
    held = LotActionNotAllowed(
        lot="COIL-HELD", status="hold", action="issue", can="adjust, move, release, return, scrap"
    )
    refused = f"{page.get_attribute('#pop', 'data-msg-error')}: {error_message(held, 'ko')}"  # the operator's language
    expect(page.locator("#lot-status.bad")).to_have_text(refused)
    page.fill("#lot-code", "COIL-77")
    page.fill("#lot-qty", "20")
    page.press("#lot-code", "Enter")
    expect(page.locator("#lot-status.ok")).to_contain_text("COIL-77")
    page.fill("#lot-qty", "8")
    page.click("[data-lot=output]")
    expect(page.locator("#lot-status.ok a")).to_have_attribute("href", re.compile(r"/api/v1/lots/.+/label\.pdf"))
    seam = page.locator(".inspect-row").first
    seam.locator("input[name=values]").fill("2.01")
    seam.locator("button").click()
    expect(seam.locator(".status.ok")).to_be_visible()
    seam.locator("input[name=values]").fill("2.9")
    seam.locator("button").click()
    expect(seam.locator(".status.bad")).to_contain_text("nelson1")
    page.screenshot(path=str(artefacts() / "terminal-material.png"), full_page=True)
    with app.state.engine.connect() as conn:
        from shopfloor.store import lots, trace

        assert lots.get(conn, "COIL-77").qty == "30"
        made = [n for n in trace.trace(conn, "COIL-77", trace.FORWARD).lots() if n["code"] != "COIL-77"]
    assert [(n["item"], n["qty"], n["work_order"]) for n in made] == [("SHELL", "8", "WO-77")]
