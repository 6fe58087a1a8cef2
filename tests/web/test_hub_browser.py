"""In Debian's chromium (Playwright): the program office, a sponsor and a factory each sign in and land on their
own view of the hub, in Korean (an organisation in Asia/Seoul), amounts in won, partial months marked; the factory
withdraws a month and the sponsor no longer sees it.  Screenshots in artefacts/screenshots/hub-*.png."""

from __future__ import annotations

import socket
import threading
import time
from datetime import date
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import expect

from shopfloor.actions.hub_share import signed_report
from shopfloor.app import create_app
from shopfloor.model.funding import Rule
from shopfloor.model.signing import generate_key
from shopfloor.settings import Settings
from shopfloor.store import accounts
from shopfloor.store import hub as store
from shopfloor.store.db import open_store
from tests.hub.test_hub import closed_month, current_month
from tests.web.test_browser import CHROMIUM, artefacts, browser  # noqa: F401  # the browser fixture

PASSWORD = "hub-password-123"
M = 1_000_000
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed (./run setup)")


@pytest.fixture
def hub_server(tmp_path):
    engine = open_store(str(tmp_path / "hub.db"))
    keys = {}
    with engine.begin() as conn:
        store.add_organisation(conn, "KOSMO", "스마트제조혁신추진단", "office")
        store.add_organisation(conn, "SS", "삼성전자", "sponsor")
        store.add_program(conn, "SANGSAENG", "대중소 상생형 스마트공장")
        store.set_rule(
            conn,
            Rule.from_dict(
                {
                    "type": "기초",
                    "year": 2026,
                    "effective_from": "2026-01-01",
                    "parties": {
                        "state": {"max_pct": 30, "cap": 42 * M},
                        "sponsor": {"min_pct": 30},
                        "sme": {"max_pct": 40},
                    },
                },
                "SANGSAENG",
            ),
        )
        for i, name in enumerate(("대성정밀", "한빛금속", "우리플라스틱"), start=1):
            pem, public = generate_key()
            keys[f"F{i}"] = pem
            store.add_organisation(conn, f"F{i}", name, "factory", public)
            store.add_project(
                conn,
                {
                    "code": f"SS-26-{i:03d}",
                    "name": f"{name} MES 구축",
                    "program": "SANGSAENG",
                    "type": "기초",
                    "year": 2026,
                    "agreed_on": date(2026, 3, 2),
                    "factory": f"F{i}",
                    "sponsor": "SS",
                    "budget": 100 * M + i * 10 * M,
                    "shares": {"state": 30 * M, "sponsor": 30 * M + i * 10 * M, "sme": 40 * M},
                    "baseline": {"ppm": 12_000, "output_per_hour": 38, "operating_rate": 0.62},
                    "target": {"ppm": 3_000, "output_per_hour": 48, "operating_rate": 0.8},
                },
            )
        for user, role, org in (
            ("office", "office", "KOSMO"),
            ("samsung", "sponsor", "SS"),
            ("daesung", "factory", "F1"),
        ):
            accounts.create_user(conn, user, role, password=PASSWORD, organisation=org)
        factory = store.Viewer("factory", store.organisation(conn, "F1")["id"])
        store.grant_consent(conn, factory, "SS", ["ppm", "output_per_hour", "operating_rate"])
        for i in (1, 2):
            viewer = store.Viewer("factory", store.organisation(conn, f"F{i}")["id"])
            for back, ppm in ((2, 7_000.0 - i * 1_000), (1, 5_500.0 - i * 1_000)):
                store.receive_report(
                    conn,
                    viewer,
                    signed_report(
                        keys[f"F{i}"],
                        f"F{i}",
                        None,
                        closed_month(back),
                        {"ppm": ppm, "output_per_hour": 44.5, "operating_rate": 0.71},
                    ),
                )
        store.receive_report(
            conn,
            factory,
            signed_report(
                keys["F1"],
                "F1",
                None,
                current_month(),
                {"ppm": 4_100.0, "output_per_hour": 45.2, "operating_rate": 0.73},
                partial=True,
            ),
        )
    app = create_app(Settings(hub=True), engine=engine)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    engine.dispose()


def _sign_in(browser, base, user):  # noqa: F811
    page = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
    page.goto(f"{base}/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(f"{base}/hub")
    assert page.get_attribute("html", "lang") == "ko"
    return page


def test_office_sponsor_and_factory_land_on_their_hub_in_korean(hub_server, browser):  # noqa: F811
    base = hub_server
    office = _sign_in(browser, base, "office")
    expect(office.locator("h1")).to_contain_text("스마트제조혁신추진단")
    expect(office.locator("header nav")).to_have_text("허브")
    expect(office.locator("table.projects tbody tr")).to_have_count(3)
    expect(office.locator("table.projects")).to_contain_text("1억 1,000만 원")
    expect(office.locator("table.projects")).to_contain_text("불량률")
    expect(office.locator("table.projects .partial")).to_have_text(["일부"])
    expect(office.locator("table.rollup")).to_contain_text("삼성전자")
    office.screenshot(path=str(artefacts() / "hub-office-ko.png"), full_page=True)
    office.click("a:has-text('대성정밀 MES 구축')")
    expect(office.locator("table.month-table tbody tr")).to_have_count(3)
    office.screenshot(path=str(artefacts() / "hub-project-ko.png"), full_page=True)

    sponsor = _sign_in(browser, base, "samsung")
    rows = sponsor.locator("table.projects tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.filter(has_text="대성정밀").locator("td.kpis")).to_contain_text("불량률")
    expect(rows.filter(has_text="한빛금속").locator("td.kpis")).not_to_contain_text("5,500")  # no consent
    sponsor.screenshot(path=str(artefacts() / "hub-sponsor-ko.png"), full_page=True)

    factory = _sign_in(browser, base, "daesung")
    expect(factory.locator(".consent-text")).to_contain_text("사업 관리 기관")
    expect(factory.locator("table.months tbody tr")).to_have_count(3)
    factory.fill("form[action='/hub/withdrawals'] input[name=period]", current_month())
    factory.click("form[action='/hub/withdrawals'] button")
    expect(factory.locator("table.months tbody tr")).to_have_count(2)
    expect(factory.locator("ul.withdrawn")).to_contain_text(current_month())
    factory.screenshot(path=str(artefacts() / "hub-factory-ko.png"), full_page=True)
    sponsor.reload()
    expect(sponsor.locator("table.projects .partial")).to_have_count(0)
