"""The charts in Debian's chromium (Playwright): they are SVG made on the server and shown under the pages'
Content-Security-Policy (no inline style) with their colours; a point that breaks a rule is red with its rule in the
tooltip; the machine page fetches its charts again when the machine reports.  Screenshots in
artefacts/screenshots/chart-*.png."""

import numpy as np
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.web.test_browser import TABLET, artefacts, browser, sqlite_only  # noqa: F401 - fixtures

RED = "rgb(214, 39, 40)"


def sign_in(browser, base, user, path):  # noqa: F811 - the fixture, passed in
    page = browser.new_context(viewport=TABLET).new_page()
    page.goto(f"{base}/login?next={path}")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(f"{base}{path}")
    return page


def painted(page, selector: str) -> list[str]:
    """The fill colours the browser paints the first shapes of ``selector`` with."""
    return page.eval_on_selector_all(selector, "els => els.map(e => getComputedStyle(e).fill)")


def test_a_characteristic_chart_shows_its_violation_in_red_with_the_rule(sqlite_only, app, live_server, browser):  # noqa: F811
    from tests.lots_data import add_master_data

    with app.state.engine.begin() as conn:
        plant = add_master_data(conn, with_plant=False)
        from shopfloor.store import inspections as insp

        char = insp.save_characteristic(
            conn,
            plant,
            {"product": "SHELL", "code": "SEAM", "name": "Seam height", "kind": "variable", "chart": "imr",
             "sample_size": 1, "lsl": 1.0, "usl": 3.0, "rules": "nelson"},
        )  # fmt: skip
        values = [round(v, 3) for v in np.random.default_rng(17).normal(2.0, 0.02, 24)] + [2.6]
        for v in values:
            insp.record(conn, char, "qa", measurements_=[v], machine="WLD-01")
    page = sign_in(browser, live_server, "quality", f"/quality/characteristics/{char.id}")
    charts = page.locator(".chart.control svg.chart-svg")
    expect(charts).to_have_count(2)  # individuals and moving range
    box = charts.first.bounding_box()
    assert box["width"] > 600 and box["height"] > 150
    # The background is painted white: the SVG's colours are attributes, which the CSP lets through.
    assert painted(page, ".chart.control svg > g > g > path")[0] == "rgb(255, 255, 255)"
    first = page.locator(".chart.control").first
    flagged = first.locator("g.pt.violation")
    expect(flagged).not_to_have_count(0)
    assert first.locator("g.pt.violation").last.get_attribute("data-index") == "24"
    assert "nelson1" in first.locator("g.pt.violation > title").last.text_content()
    assert set(painted(page, ".chart.control:first-of-type g.pt.violation use")) == {RED}
    plain = painted(page, ".chart.control:first-of-type g.pt:not(.violation) use")
    assert plain and RED not in plain
    assert first.locator("g.limit.ucl").count() == 1 and first.locator("g.limit.centre").count() == 1
    page.screenshot(path=str(artefacts() / "chart-characteristic-ko.png"), full_page=True)


def test_the_machine_charts_follow_a_report(sqlite_only, live_server, browser):  # noqa: F811
    page = sign_in(browser, live_server, "supervisor", "/machines/WLD-01")
    for chart in ("#timeline", "#hourly", "#pareto"):
        expect(page.locator(f"{chart} svg.chart-svg")).to_be_visible()
    before = sum(float(v) for v in page.eval_on_selector_all("#hourly g.bar", "els => els.map(e => e.dataset.value)"))
    page.eval_on_selector("#machine-charts", "el => el.dataset.seen = '1'")

    term = browser.new_context(viewport=TABLET).new_page()
    term.goto(f"{live_server}/terminal/login")
    term.fill("#who", "B-1001")
    term.fill("#pin", "4821")
    term.click(".keypad [data-key='OK']")
    term.wait_for_url(f"{live_server}/terminal")
    term.click("a.pick:has-text('WLD-01')")
    term.fill("#qty", "5")
    term.click("[data-action=good]")
    term.wait_for_selector("#status.ok")

    # The tile's event brings new charts (the old element is swapped out), with the five parts in the hour.
    expect(page.locator("#machine-charts:not([data-seen])")).to_have_count(1, timeout=10000)
    after = sum(float(v) for v in page.eval_on_selector_all("#hourly g.bar", "els => els.map(e => e.dataset.value)"))
    assert after == before + 5
    assert set(painted(page, "#hourly g.bar path")) == {"rgb(30, 142, 62)"}
    page.screenshot(path=str(artefacts() / "chart-machine-ko.png"), full_page=True)
