"""The floor in Debian's chromium (Playwright), at phone (412x915), tablet (1024x768) and TV (1920x1080) sizes:
the stop question takes the screen and is answered from its first screen, never asked in planned time; no
control makes the page scroll sideways from 360 to 1920 px.

Screenshots go to artefacts/screenshots/floor-*.png (override with SHOPFLOOR_ARTEFACTS)."""

from datetime import datetime, timedelta, timezone

import pytest
from playwright.sync_api import expect

from shopfloor.actions.demo import sample_plant
from shopfloor.model.events import MachineState, StateChange
from shopfloor.model.plant import Plant
from shopfloor.store.events import append_events
from shopfloor.store.plant import save_plant
from tests.web.test_browser import artefacts, browser, sqlite_only  # noqa: F401 - the shared fixtures

SIZES = {"phone": (412, 915), "tablet": (1024, 768), "tv": (1920, 1080)}


def plant_with_shift_around(now: datetime, *, break_now: bool = False) -> Plant:
    """The sample plant with one shift every day from three hours before ``now`` to three after (site time),
    with a break around ``now`` if asked: the test does not depend on the hour it runs at."""
    doc = sample_plant().to_dict()
    local = now.astimezone(sample_plant().site.tz)
    hhmm = lambda dt: dt.strftime("%H:%M")  # noqa: E731
    shift = {
        "name": "Day",
        "start": hhmm(local - timedelta(hours=3)),
        "end": hhmm(local + timedelta(hours=3)),
        "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        "breaks": [],
    }
    if break_now:
        shift["breaks"] = [{"start": hhmm(local - timedelta(minutes=20)), "end": hhmm(local + timedelta(minutes=20))}]
    doc["calendar"] = {"shifts": [shift], "holidays": []}
    return Plant.from_dict(doc)


def stopped(app, *, minutes: int, break_now: bool = False, machine: str = "WLD-01") -> datetime:
    now = datetime.now(timezone.utc)
    with app.state.engine.begin() as conn:
        save_plant(conn, plant_with_shift_around(now, break_now=break_now), "test")
        append_events(conn, [StateChange(now - timedelta(minutes=minutes), machine, MachineState.DOWN)])
    return now


def pin_sign_in(page, base: str, lang: str | None = None) -> None:
    page.goto(f"{base}/terminal/login")
    page.fill("#who", "B-1001")
    page.fill("#pin", "4821")
    page.click(".keypad [data-key='OK']")
    page.wait_for_url(f"{base}/terminal")
    if lang:
        page.click(f"button.lang[value={lang}]")
        page.wait_for_selector(f"html[lang={lang}]")


def no_sideways_scroll(page) -> list[str]:
    """Elements that stick out of the viewport to the right (and whether the page scrolls sideways)."""
    return page.evaluate(
        """() => {
          const w = document.documentElement.clientWidth, out = [];
          if (document.documentElement.scrollWidth > w) out.push('page ' + document.documentElement.scrollWidth + ' > ' + w);
          for (const el of document.querySelectorAll('button, a, input, select, label, h1, h2, p, dd, dt')) {
            const r = el.getBoundingClientRect();
            if (r.width && r.right > w + 0.5) out.push(el.tagName + '.' + el.className + ' ' + (el.textContent || '').trim().slice(0, 30) + ' ' + r.right);
            if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX === 'visible' && el.tagName !== 'SELECT'
                && el.clientWidth > 0 && ['BUTTON', 'A', 'DD', 'H1'].includes(el.tagName))
              out.push('overflowing ' + el.tagName + ' ' + (el.textContent || '').trim().slice(0, 30));
          }
          return out;
        }"""
    )


@pytest.mark.parametrize("size", list(SIZES))
def test_the_stop_question_takes_the_screen_and_is_answered_from_it(sqlite_only, app, live_server, browser, size):
    stopped(app, minutes=11)
    width, height = SIZES[size]
    page = browser.new_context(viewport={"width": width, "height": height}).new_page()
    pin_sign_in(page, live_server)
    page.goto(f"{live_server}/terminal?machine=WLD-01")
    question = page.locator("#stop-question")
    expect(question).to_be_visible()
    assert "11" in question.locator("h1").inner_text()
    # The question covers the whole viewport, and every reason button is on its first screen, whole.
    box = question.bounding_box()
    assert (box["x"], box["y"], box["width"], box["height"]) == (0, 0, width, height)
    reasons = question.locator("button.reason")
    assert reasons.count() == len(sample_plant().downtime_reasons)
    for i in range(reasons.count()):
        b = reasons.nth(i).bounding_box()
        assert b["x"] >= 0 and b["x"] + b["width"] <= width and b["y"] + b["height"] <= height, (i, b)
        clipped = reasons.nth(i).evaluate("el => el.scrollWidth > el.clientWidth || el.scrollHeight > el.clientHeight")
        assert not clipped, reasons.nth(i).inner_text()
    assert no_sideways_scroll(page) == []
    for lang in ("vi", "ko"):
        page.screenshot(path=str(artefacts() / f"floor-stop-question-{size}-{lang}.png"))
        if lang == "vi":
            page.evaluate("document.getElementById('stop-question').style.display = 'none'")
            page.click("button.lang[value=ko]")
            page.wait_for_selector("html[lang=ko]")
    page.locator("#stop-question button.reason", has_text="MATERIAL_WAIT").click()
    expect(question).to_have_count(0)
    expect(page.locator("#status.ok")).to_be_visible()
    page.reload()
    expect(page.locator("#stop-question")).to_have_count(0)  # the stop is explained: not asked again


def test_the_stop_question_is_not_asked_in_a_break(sqlite_only, app, live_server, browser):
    now = stopped(app, minutes=11, break_now=True)
    page = browser.new_context(viewport={"width": 412, "height": 915}).new_page()
    pin_sign_in(page, live_server)
    page.goto(f"{live_server}/terminal?machine=WLD-01")
    page.wait_for_selector("[data-action=good]")
    expect(page.locator("#stop-question")).to_have_count(0)
    # It is asked three planned minutes after the break ends (the break began before the stop: nothing stood).
    ask_at = datetime.fromisoformat(page.get_attribute("#pop", "data-ask-at"))
    local = now.astimezone(sample_plant().site.tz)
    break_end = (local + timedelta(minutes=20)).replace(second=0, microsecond=0)
    assert ask_at == break_end + timedelta(minutes=3)


@pytest.mark.parametrize("width", [360, 412, 768, 1024, 1280, 1920])
def test_no_terminal_control_makes_the_page_scroll_sideways(sqlite_only, app, live_server, browser, width):
    from tests.lots_data import add_master_data, start_order

    with app.state.engine.begin() as conn:
        plant = add_master_data(conn, with_plant=False)
        start_order(conn, plant, "WO-77", "SHELL", machine="WLD-01")
    page = browser.new_context(viewport={"width": width, "height": 800}).new_page()
    pin_sign_in(page, live_server)
    for lang in ("vi", "ko", "en"):
        page.goto(f"{live_server}/terminal?machine=WLD-01")
        page.click(f"button.lang[value={lang}]")
        page.wait_for_selector(f"html[lang={lang}]")
        page.wait_for_selector("#material")
        assert no_sideways_scroll(page) == [], lang
        page.goto(f"{live_server}/terminal/login")
        assert no_sideways_scroll(page) == [], lang
    page.goto(f"{live_server}/terminal?machine=WLD-01")
    if width in (360, 1280):
        page.screenshot(path=str(artefacts() / f"floor-terminal-{width}-en.png"), full_page=True)


@pytest.mark.parametrize("lang", ["vi", "ko"])
def test_a_refused_action_shows_its_message_in_the_operators_language(sqlite_only, app, live_server, browser, lang):
    from shopfloor.errors import FieldTooLarge, LotActionNotAllowed, RequestInvalid, TerminalQuantity
    from shopfloor.i18n import error_message
    from shopfloor.store import lots
    from tests.lots_data import add_master_data, start_order

    with app.state.engine.begin() as conn:
        plant = add_master_data(conn, with_plant=False)
        lots.receive(conn, "COIL", 5, "clerk", code="COIL-HELD")
        lots.hold(conn, "COIL-HELD", "tensile test failed", "qa")
        start_order(conn, plant, "WO-77", "SHELL", machine="WLD-01")
    page = browser.new_context(viewport={"width": 412, "height": 915}).new_page()
    # A wrong PIN keeps the badge in its field: only the PIN is typed again.
    page.goto(f"{live_server}/terminal/login")
    page.fill("#who", "B-1001")
    page.fill("#pin", "0000")
    page.click(".keypad [data-key='OK']")
    expect(page.locator("p.error")).to_be_visible()
    assert page.input_value("#who") == "B-1001" and page.input_value("#pin") == ""
    page.fill("#pin", "4821")
    page.click(".keypad [data-key='OK']")
    page.wait_for_url(f"{live_server}/terminal")
    page.click(f"button.lang[value={lang}]")
    page.wait_for_selector(f"html[lang={lang}]")
    page.goto(f"{live_server}/terminal?machine=WLD-01")
    refused = page.get_attribute("#pop", "data-msg-error")
    assert refused and refused != "Refused"

    page.fill("#qty", "0")  # refused on the tablet itself
    page.click("[data-action=good]")
    expect(page.locator("#status.bad")).to_have_text(f"{refused}: {error_message(TerminalQuantity(), lang)}")
    page.screenshot(path=str(artefacts() / f"floor-refused-quantity-{lang}.png"))

    page.wait_for_timeout(700)
    page.fill("#qty", "200000")  # beyond the schema's limit: refused by the server, each problem translated
    page.click("[data-action=good]")
    schema = RequestInvalid([FieldTooLarge(field="body.quantity", limit=100000)])
    expect(page.locator("#status.bad")).to_have_text(f"{refused}: {error_message(schema, lang)}")
    assert error_message(schema, lang) != error_message(schema, "en")

    page.wait_for_timeout(700)
    page.fill("#qty", "5")  # a stored entry is confirmed with the action's name in the operator's language
    page.click("[data-action=good]")
    good = page.locator("[data-action=good]").get_attribute("data-action")
    names = {"vi": "Hàng đạt", "ko": "양품"}
    expect(page.locator("#status.ok")).to_contain_text(f"{names[lang]} 5")
    assert good == "good" and "good" not in page.inner_text("#status")

    page.fill("#lot-code", "COIL-HELD")
    page.press("#lot-code", "Enter")
    held = LotActionNotAllowed(lot="COIL-HELD", status="hold", action="issue", can="adjust, move, release, return, scrap")
    expect(page.locator("#lot-status.bad")).to_have_text(f"{refused}: {error_message(held, lang)}")
    page.screenshot(path=str(artefacts() / f"floor-refused-lot-{lang}.png"), full_page=True)

    # A page the operator may not open, and one that does not exist: pages in their language, not JSON.
    for path, status in (("/admin/reports", 403), ("/machines/NOPE", 404), ("/api/v1/lots/NOPE/label.pdf", 404)):
        response = page.goto(f"{live_server}{path}")
        assert response.status == status and response.headers["content-type"].startswith("text/html"), path
        assert page.get_attribute("html", "lang") == lang
        expect(page.locator("p.error")).not_to_be_empty()
    page.screenshot(path=str(artefacts() / f"floor-not-found-{lang}.png"))
