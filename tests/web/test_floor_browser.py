"""The floor in Debian's chromium (Playwright), at phone (412x915), tablet (1024x768) and TV (1920x1080) sizes:
the stop question takes the screen and is answered from its first screen, never asked in planned time; no
control makes the page scroll sideways from 360 to 1920 px.

Screenshots go to artefacts/screenshots/floor-*.png (override with SHOPFLOOR_ARTEFACTS)."""

import re
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright
from sqlalchemy import select

from shopfloor.actions.demo import sample_plant
from shopfloor.model.events import MachineState, StateChange
from shopfloor.model.plant import Plant
from shopfloor.store.events import append_events
from shopfloor.store.plant import save_plant
from tests.web.test_browser import CHROMIUM, artefacts

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed (./run setup)")
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-quic"]  # fmt: skip


@pytest.fixture
def browser():
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        yield b
        b.close()


@pytest.fixture
def sqlite_only(request):
    if "postgresql" in request.node.callspec.id:
        pytest.skip("browser tests run once, on SQLite; the actions they use are tested on both stores")


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
          const page = document.documentElement.scrollWidth;
          if (page > w) out.push('page ' + page + ' > ' + w);
          for (const el of document.querySelectorAll('button, a, input, select, label, h1, h2, p, dd, dt')) {
            const r = el.getBoundingClientRect();
            const what = el.tagName + '.' + el.className + ' ' + (el.textContent || '').trim().slice(0, 30);
            if (r.width && r.right > w + 0.5) out.push(what + ' ' + r.right);
            const spills = el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX === 'visible';
            if (spills && el.clientWidth > 0 && ['BUTTON', 'A', 'DD', 'H1'].includes(el.tagName))
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
    assert reasons.count() == len(sample_plant().reasons_for("downtime", "WLD-01"))
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
    page.locator("#stop-question button.reason[data-reason=MATERIAL_WAIT]").click()
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
    held = LotActionNotAllowed(
        lot="COIL-HELD", status="hold", action="issue", can="adjust, move, release, return, scrap"
    )
    expect(page.locator("#lot-status.bad")).to_have_text(f"{refused}: {error_message(held, lang)}")
    page.screenshot(path=str(artefacts() / f"floor-refused-lot-{lang}.png"), full_page=True)

    # A page the operator may not open, and one that does not exist: pages in their language, not JSON.
    for path, status in (("/admin/reports", 403), ("/machines/NOPE", 404), ("/api/v1/lots/NOPE/label.pdf", 404)):
        response = page.goto(f"{live_server}{path}")
        assert response.status == status and response.headers["content-type"].startswith("text/html"), path
        assert page.get_attribute("html", "lang") == lang
        expect(page.locator("p.error")).not_to_be_empty()
    page.screenshot(path=str(artefacts() / f"floor-not-found-{lang}.png"))


# -- the board ----------------------------------------------------------------------------------------------------
def sign_in_board(browser, base, viewport, path="/board", **context):
    from tests.conftest import PASSWORD

    page = browser.new_context(viewport=viewport, **context).new_page()
    page.goto(f"{base}/login?next={path}")
    page.fill("input[name=username]", "supervisor")
    page.fill("input[name=password]", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(f"{base}{path}")
    return page


def test_the_board_is_live_time_in_state_ticks_and_totals_follow_within_two_seconds(
    sqlite_only, app, live_server, browser
):
    import time

    from shopfloor.actions.terminal import PopEntry, record_terminal_entry
    from shopfloor.i18n import Translator

    now = datetime.now(timezone.utc)
    with app.state.engine.begin() as conn:
        save_plant(conn, plant_with_shift_around(now), "test")
        # Down for 4 min 56 s: the tile must turn to 5 min by itself, without a new event.
        append_events(conn, [StateChange(now - timedelta(minutes=4, seconds=56), "CNC-02", MachineState.DOWN)])
    page = sign_in_board(browser, live_server, {"width": 1280, "height": 800})
    ko = Translator("ko", sample_plant().site.tz)
    in_state = page.locator("#tile-CNC-02 .in-state")
    expect(in_state).to_have_text(ko.duration(5 * 60), timeout=8000)
    before_stamp = page.get_attribute("#summary time", "datetime")
    assert page.inner_text(".site-gq") in ("–", "0")
    page.wait_for_timeout(1500)  # the stream is connected

    started = time.monotonic()
    record_terminal_entry(
        app.state.engine, "op-pin", PopEntry("k-live-1", datetime.now(timezone.utc), "WLD-01", "good", quantity=12)
    )
    expect(page.locator(".site-gq")).to_have_text("12", timeout=2000)
    expect(page.locator("#tile-WLD-01 .gq")).to_have_text("12", timeout=2000)
    took = time.monotonic() - started
    assert took < 2.0, took
    assert page.get_attribute("#summary time", "datetime") != before_stamp
    # The line's OEE heading shows what the summary says for the line.
    oee = page.get_attribute("#summary template[data-line=WELD]", "data-oee")
    expect(page.locator(".line-oee[data-line=WELD]")).to_have_text(oee)
    page.screenshot(path=str(artefacts() / "floor-board-1280-ko.png"), full_page=True)
    print(f"plant total on the board {took:.2f} s after the count")


def tiles_fit(page) -> dict:
    return page.evaluate(
        """() => {
          const vw = innerWidth, vh = innerHeight, boxes = [], bad = [];
          for (const t of document.querySelectorAll('.tile:not([hidden])')) {
            const r = t.getBoundingClientRect();
            boxes.push([r.left, r.top, r.right, r.bottom]);
            if (r.left < 0 || r.top < 0 || r.right > vw + 0.5 || r.bottom > vh + 0.5) bad.push('outside ' + t.id);
            if (t.scrollWidth > t.clientWidth + 1 || t.scrollHeight > t.clientHeight + 1) bad.push('overflow ' + t.id);
            for (const dd of t.querySelectorAll('dd, .tile-head span'))
              if (dd.scrollWidth > dd.clientWidth + 1) bad.push('spill ' + t.id + ' ' + dd.textContent);
          }
          for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
            const [a, b] = [boxes[i], boxes[j]];
            const apart = a[0] >= b[2] - 0.5 || b[0] >= a[2] - 0.5 || a[1] >= b[3] - 0.5 || b[1] >= a[3] - 0.5;
            if (!apart) bad.push('overlap ' + i + ' ' + j);
          }
          const area = boxes.reduce((s, b) => s + (b[2] - b[0]) * (b[3] - b[1]), 0) / (vw * vh);
          const root = document.documentElement;
          return {count: boxes.length, bad, area, scrolls: root.scrollHeight > vh || root.scrollWidth > vw,
                  smallest: Math.min(...boxes.map((b) => b[3] - b[1]))};
        }"""
    )


def plant_with_machines(n: int) -> Plant:
    """The sample plant with a line of extra machines, to ``n`` machines in all."""
    doc = sample_plant().to_dict()
    have = sum(len(ln["machines"]) for a in doc["areas"] for ln in a["lines"])
    extra = [{"code": f"PRS-{i:02d}", "name": f"Press {i}"} for i in range(1, n - have + 1)]
    doc["areas"][0]["lines"].append({"code": "PRESS", "name": "Press line", "machines": extra})
    return Plant.from_dict(doc)


@pytest.mark.parametrize("machines", [7, 30])
def test_tv_mode_fits_every_machine_on_one_1080p_screen(sqlite_only, app, live_server, browser, machines):
    with app.state.engine.begin() as conn:
        save_plant(conn, plant_with_machines(machines), "test")
        now = datetime.now(timezone.utc)
        append_events(conn, [StateChange(now - timedelta(minutes=7), "WLD-02", MachineState.DOWN)])
    page = sign_in_board(browser, live_server, {"width": 1920, "height": 1080}, path="/board?tv=1")
    assert page.locator("header.top").is_hidden()  # no menu
    for lang in ("ko", "vi"):
        if lang == "vi":
            page.evaluate("document.cookie = 'sf_lang=vi; path=/'")
            page.request.post(
                f"{live_server}/lang",
                form={
                    "lang": "vi",
                    "next": "/board?tv=1",
                    "csrf_token": page.evaluate("document.querySelector('input[name=csrf_token]').value"),
                },
            )
            page.reload()
            page.wait_for_selector("html[lang=vi]")
        page.wait_for_timeout(300)
        page.screenshot(path=str(artefacts() / f"floor-board-tv-{machines}-{lang}.png"))
        fit = tiles_fit(page)
        assert fit["count"] == machines and fit["bad"] == [] and not fit["scrolls"], fit
        assert fit["area"] > (0.6 if machines == 7 else 0.5), fit  # the screen is used, not a third of it
        assert fit["smallest"] > (300 if machines == 7 else 120), fit
    # Rotation through the lines: one line at a time, fitted the same way.
    page.goto(f"{live_server}/board?tv=1&rotate=2")
    page.wait_for_timeout(300)
    first = page.evaluate(
        "[...new Set([...document.querySelectorAll('.tile:not([hidden])')].map(t => t.dataset.line))]"
    )
    assert len(first) == 1 and tiles_fit(page)["bad"] == []
    page.wait_for_timeout(2200)
    second = page.evaluate(
        "[...new Set([...document.querySelectorAll('.tile:not([hidden])')].map(t => t.dataset.line))]"
    )
    assert len(second) == 1 and second != first


@pytest.mark.parametrize("lang", ["ko", "vi", "en"])
def test_board_tiles_do_not_spill_at_1280(sqlite_only, app, live_server, browser, lang):
    from tests.lots_data import add_master_data, start_order

    with app.state.engine.begin() as conn:
        plant = add_master_data(conn, with_plant=False)
        start_order(conn, plant, "WO-77", "SHELL", machine="WLD-01")
    page = sign_in_board(browser, live_server, {"width": 1280, "height": 800})
    page.click(f"button.lang[value={lang}]")
    page.wait_for_selector(f"html[lang={lang}]")
    fit = tiles_fit(page)
    assert [b for b in fit["bad"] if not b.startswith("outside")] == [], fit
    assert no_sideways_scroll(page) == []
    assert page.locator(".legend .swatch").count() == 5
    page.screenshot(path=str(artefacts() / f"floor-board-1280-{lang}.png"), full_page=True)


def test_the_machine_page_shows_site_times_in_a_browser_in_utc(sqlite_only, app, live_server, browser):
    now = stopped(app, minutes=30, machine="WLD-01")
    page = sign_in_board(browser, live_server, {"width": 1280, "height": 800}, timezone_id="UTC")
    page.goto(f"{live_server}/machines/WLD-01")
    page.wait_for_selector("#timeline svg text")
    assert page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone") == "UTC"
    start = datetime.fromisoformat(page.get_attribute("#timeline", "data-start"))
    end = datetime.fromisoformat(page.get_attribute("#timeline", "data-end"))
    labels = page.eval_on_selector_all("#timeline svg text", "els => els.map(e => e.textContent)")
    labels = [x for x in labels if len(x) == 5 and x[2] == ":"]

    def hours(tz):  # the clock hours the window covers, read in ``tz``
        first = start.astimezone(tz).replace(minute=0, second=0, microsecond=0)
        return {(first + timedelta(hours=k)).hour for k in range(int((end - first).total_seconds() // 3600) + 1)}

    site, utc = hours(sample_plant().site.tz), hours(timezone.utc)
    assert labels and site != utc
    assert {int(x[:2]) for x in labels} <= site, (labels, site)  # the site's clock, not the browser's
    # The machine's OEE with A, P and Q, live: its time in state ticks.
    assert [page.inner_text(f"#tile-WLD-01 .aeq dt >> nth={i}") for i in range(3)] == ["A", "P", "Q"]
    expect(page.locator(".legend")).to_be_visible()
    page.screenshot(path=str(artefacts() / "floor-machine-utc-ko.png"), full_page=True)
    assert now


# -- the machine chooser ------------------------------------------------------------------------------------------
def test_the_chooser_shows_name_state_and_order_and_the_device_keeps_its_machine(
    sqlite_only, app, live_server, browser
):
    from tests.lots_data import add_master_data, start_order

    stopped(app, minutes=1, machine="CNC-02")
    with app.state.engine.begin() as conn:
        plant = add_master_data(conn, with_plant=False)
        start_order(conn, plant, "WO-77", "SHELL", machine="WLD-01")
    tablet = browser.new_context(viewport={"width": 412, "height": 915})
    page = tablet.new_page()
    pin_sign_in(page, live_server)  # in Vietnamese
    wld = page.locator("#chooser a.pick[data-machine=WLD-01]")
    assert "Laser welder 1" in wld.inner_text() and "WO-77 · SHELL" in wld.inner_text()
    cnc = page.locator("#chooser a.pick[data-machine=CNC-02]")
    assert "Hỏng" in cnc.inner_text() and "red" in cnc.get_attribute("class")
    assert no_sideways_scroll(page) == []
    page.screenshot(path=str(artefacts() / "floor-chooser-phone-vi.png"), full_page=True)
    wld.click()
    page.wait_for_selector("#mine")
    page.click("#mine")  # this tablet is WLD-01's
    expect(page.locator("#mine")).to_have_attribute("aria-pressed", "true")
    page.goto(f"{live_server}/terminal")
    page.wait_for_url(f"{live_server}/terminal?machine=WLD-01")  # it opens on its machine
    assert page.locator("#chooser a.pick").first.get_attribute("data-machine") == "WLD-01"
    # Another device signed in as the same operator chooses for itself.
    other = browser.new_context(viewport={"width": 1024, "height": 768}).new_page()
    pin_sign_in(other, live_server)
    assert other.url == f"{live_server}/terminal"
    assert other.locator("#chooser a.pick").count() == 7


# -- the languages of the floor -----------------------------------------------------------------------------------
MISSING_GLYPHS = """(text) => {
  // A character without a glyph in any installed font is drawn as the font's .notdef box ("tofu"), the same
  // picture as a private-use or unassigned code point: compare each character's pixels with those.
  const family = getComputedStyle(document.body).fontFamily;
  const canvas = document.createElement('canvas'); canvas.width = 72; canvas.height = 72;
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  const draw = (ch) => { ctx.clearRect(0, 0, 72, 72); ctx.font = `48px ${family}`; ctx.fillText(ch, 8, 56);
                         return ctx.getImageData(0, 0, 72, 72).data.join(','); };
  const tofu = new Set([draw('\\uE000'), draw('\\u{10FFFD}'), draw('\\u{E0FFF}')]);
  const missing = [];
  for (const ch of new Set([...text])) {
    if (/[\\s\\p{Cf}]/u.test(ch)) continue;  // spaces, joiners: nothing to draw
    if (tofu.has(draw(ch))) missing.push(ch);
  }
  return missing;
}"""


def test_each_terminal_language_renders_without_a_missing_glyph(sqlite_only, app, live_server, browser):
    from shopfloor.i18n import TERMINAL_LANGUAGES
    from tests.lots_data import add_master_data, start_order

    stopped(app, minutes=11, machine="CNC-02")
    with app.state.engine.begin() as conn:
        plant = add_master_data(conn, with_plant=False)
        start_order(conn, plant, "WO-77", "SHELL", machine="WLD-01")
    page = browser.new_context(viewport={"width": 1024, "height": 768}).new_page()
    pin_sign_in(page, live_server)
    # The check finds a missing glyph when there is one (an unassigned code point).
    assert page.evaluate(MISSING_GLYPHS, "A\U0010fffd가") == ["\U0010fffd"]
    for lang in TERMINAL_LANGUAGES:
        page.goto(f"{live_server}/terminal?machine=WLD-01")
        page.click(f"button.lang[value={lang}]")
        page.wait_for_selector(f"html[lang={lang}]")
        page.wait_for_selector("#material")
        text = page.inner_text("body")
        assert page.evaluate(MISSING_GLYPHS, text) == [], lang
        assert no_sideways_scroll(page) == [], lang
        if lang in ("ne", "km", "my", "si", "th"):
            assert not re.search(r"[A-Za-z]{4,}", page.inner_text("[data-action=good]")), lang  # translated
        if lang in ("ko", "vi", "ne"):
            page.screenshot(path=str(artefacts() / f"floor-terminal-tablet-{lang}.png"), full_page=True)
            page.goto(f"{live_server}/terminal?machine=CNC-02")
            expect(page.locator("#stop-question")).to_be_visible()
            assert page.evaluate(MISSING_GLYPHS, page.inner_text("body")) == [], lang
            page.screenshot(path=str(artefacts() / f"floor-stop-question-tablet-{lang}.png"))
            page.goto(f"{live_server}/terminal")
            page.screenshot(path=str(artefacts() / f"floor-chooser-tablet-{lang}.png"), full_page=True)
    # The reason names in Nepali, from the plant file.
    page.goto(f"{live_server}/terminal?machine=WLD-01")
    page.click("button.lang[value=ne]")
    page.wait_for_selector("html[lang=ne]")
    expect(page.locator("button.reason[data-reason=LASER_FAULT]")).to_contain_text("लेजर खराबी")


def _until_photos(app, expected: list[tuple], timeout_s: float = 10.0) -> list[tuple]:
    """The (defect, size) of the stored photos once they are ``expected`` (the page sends a photo after its
    entry is stored, from the tablet's own store), or as they are when ``timeout_s`` has passed."""
    from shopfloor.store.schema import defect_photos

    deadline = time.monotonic() + timeout_s
    while True:
        with app.state.engine.connect() as conn:
            rows = sorted(tuple(r) for r in conn.execute(select(defect_photos.c.defect, defect_photos.c.size)))
        if rows == expected or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


# -- handover and defect photos -----------------------------------------------------------------------------------
def test_the_next_shift_reads_the_handover_and_a_scrap_carries_its_photo(sqlite_only, app, live_server, browser):
    from shopfloor.store import floor

    now = datetime.now(timezone.utc)
    with app.state.engine.begin() as conn:
        save_plant(conn, plant_with_shift_around(now), "test")
        # Left by the shift before (written before this shift began).
        floor.write_handover(conn, "WLD-01", "earlier/Night", "Night", "Wire feeder jams: clean the liner", "user:kim",
                             now - timedelta(hours=4))  # fmt: skip
    page = browser.new_context(viewport={"width": 412, "height": 915}).new_page()
    pin_sign_in(page, live_server)
    page.goto(f"{live_server}/terminal?machine=WLD-01")
    expect(page.locator("#handover")).to_contain_text("Wire feeder jams: clean the liner")
    assert page.locator("#handover").bounding_box()["y"] < 915  # on the first screen
    page.screenshot(path=str(artefacts() / "floor-handover-phone-vi.png"))
    page.fill("#handover-text", "Liner cleaned at 10:00")
    page.click("#handover-save")
    expect(page.locator("#handover-status.ok")).to_be_visible()
    # A scrap with a photo from the tablet's camera (a file input that opens the camera on a tablet).
    assert page.get_attribute("#defect-photo", "capture") == "environment"
    page.set_input_files("#defect-photo", {"name": "defect.jpg", "mimeType": "image/jpeg",
                                           "buffer": b"\xff\xd8\xff\xe0" + b"\x01" * 500})  # fmt: skip
    page.fill("#qty", "1")
    page.select_option("#defect", "POROSITY")
    page.click("[data-action=scrap]")
    expect(page.locator("#status.ok")).to_be_visible()
    expect(page.locator("#defect-photo")).to_have_value("")  # kept with the entry, then sent
    assert _until_photos(app, [("POROSITY", 504)]) == [("POROSITY", 504)]
    # A file that is not a picture is refused in the operator's language.
    page.set_input_files("#defect-photo", {"name": "x.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.7"})
    page.wait_for_timeout(700)
    page.click("[data-action=scrap]")
    from shopfloor.errors import PhotoNotImage
    from shopfloor.i18n import error_message

    expect(page.locator("#status.bad")).to_contain_text(
        error_message(PhotoNotImage(content_type="application/pdf"), "vi")
    )
    # The network fails while the photo is on its way: the tablet keeps it, through a reload of the page, and
    # sends it when it can.
    page.route("**/api/v1/pop/photos", lambda route: route.abort())
    page.set_input_files("#defect-photo", {"name": "late.jpg", "mimeType": "image/jpeg",
                                           "buffer": b"\xff\xd8\xff\xe0" + b"\x02" * 300})  # fmt: skip
    page.wait_for_timeout(700)
    page.click("[data-action=scrap]")
    expect(page.locator("#status.ok")).to_be_visible()
    expect(page.locator("#defect-photo")).to_have_value("")  # kept with the entry
    kept = "() => new Promise((ok) => { const r = indexedDB.open('shopfloor-terminal-photos', 1); r.onsuccess = () => { const q = r.result.transaction('photos').objectStore('photos').count(); q.onsuccess = () => { r.result.close(); ok(q.result); }; }; })"  # noqa: E501
    deadline = time.monotonic() + 10
    while page.evaluate(kept) != 1 and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert page.evaluate(kept) == 1
    page.unroute("**/api/v1/pop/photos")
    page.reload()
    stored = _until_photos(app, [("POROSITY", 304), ("POROSITY", 504)])
    assert stored == [("POROSITY", 304), ("POROSITY", 504)]
    assert page.evaluate(kept) == 0


# -- scanning -----------------------------------------------------------------------------------------------------
def barcode_video(path, text: str, width: int = 640, height: int = 480) -> None:
    """A Y4M video (chromium's fake camera) of ``text`` as a Code 128 symbol, black on white, still."""
    from shopfloor.reports.barcode import code128_modules

    module = 3
    row = bytearray(b"\xff" * width)
    x = (width - module * (sum(code128_modules(text)))) // 2
    for i, w in enumerate(code128_modules(text)):
        if i % 2 == 0:  # bars first
            row[x : x + w * module] = b"\x00" * (w * module)
        x += w * module
    luma = bytes(b"\xff" * width) * (height // 4) + bytes(row) * (height // 2) + bytes(b"\xff" * width) * (height // 4)
    chroma = b"\x80" * (width // 2 * height // 2)
    frame = b"FRAME\n" + luma + chroma + chroma
    with open(path, "wb") as fh:
        fh.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode() + frame * 3)


def test_a_scanner_or_the_camera_reads_lots_and_orders(sqlite_only, app, live_server, tmp_path):
    from shopfloor.store import lots
    from tests.lots_data import add_master_data, start_order

    with app.state.engine.begin() as conn:
        plant = add_master_data(conn, with_plant=False)
        lots.receive(conn, "COIL", 50, "clerk", code="COIL-77", supplier="POSCO", supplier_lot="P-77")
        lots.receive(conn, "COIL", 50, "clerk", code="COIL-88", supplier="POSCO", supplier_lot="P-88")
        start_order(conn, plant, "WO-77", "SHELL", machine="WLD-01")
        start_order(conn, plant, "WO-78", "SHELL", machine="WLD-01", start=False)
    video = tmp_path / "coil.y4m"
    barcode_video(video, "COIL-88")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={video}"])  # fmt: skip
        ctx = b.new_context(viewport={"width": 1024, "height": 768}, permissions=["camera"])
        page = ctx.new_page()
        pin_sign_in(page, live_server)
        page.goto(f"{live_server}/terminal?machine=WLD-01")
        page.wait_for_selector("#material")
        # A keyboard-wedge scanner types the lot and Enter, fast, wherever the focus is not in a field.
        page.wait_for_function("window.terminalScanned !== undefined")  # the page's scripts are running
        page.keyboard.type("COIL-77\n")
        expect(page.locator("#lot-status.ok")).to_contain_text("COIL-77")
        # The camera reads a lot's label.
        page.click("#scan-camera")
        expect(page.locator("#lot-status.ok")).to_contain_text("COIL-88", timeout=15000)
        expect(page.locator("#scanner")).to_be_hidden()
        # A scanned order of the machine's dispatch list starts it (once the running one is finished).
        page.click("[data-action=finish]")
        expect(page.locator(".order-now")).to_have_count(0)
        page.wait_for_function("window.terminalScanned !== undefined")
        page.keyboard.type("WO-78\n")
        expect(page.locator(".order-now .order")).to_have_text("WO-78")
        b.close()
    with app.state.engine.connect() as conn:
        assert lots.get(conn, "COIL-88").qty == "0"  # issued whole to WO-77 by the camera's scan
