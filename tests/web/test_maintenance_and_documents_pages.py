"""The maintenance page and the terminal's maintenance card, on both stores: plans with their due state, a
breakdown called from the terminal's API, acknowledged and closed on the page, refusals in the user's language;
then in Debian's chromium, in Korean, English and Vietnamese, with screenshots under artefacts/screenshots/."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from shopfloor.actions import maintenance as mnt
from shopfloor.errors import MaintenanceNumberInvalid, MouldMounted, SkillExpiryInvalid
from shopfloor.i18n import error_message
from tests.conftest import PASSWORD
from tests.web.test_browser import CHROMIUM, artefacts, browser, sqlite_only  # noqa: F401 - fixtures

TABLET = {"width": 1280, "height": 800}


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_the_page_shows_plans_orders_and_moulds_and_takes_the_work(app, as_role):
    engine = app.state.engine
    long_ago = datetime.now(timezone.utc) - timedelta(days=40)
    mnt.create_maintenance_plan(engine, "cli:root", code="PM-CAL", name="monthly check", trigger="calendar",
                                interval=30, machine="WLD-01", checklist=["oil"], last_done_at=long_ago)  # fmt: skip
    sup = as_role("supervisor")
    page = sup.get("/maintenance")
    assert page.status_code == 200
    assert "PM-CAL" in page.text and "due-overdue" in page.text
    board = sup.get("/board").text
    assert "PM-CAL" in board and "mt-overdue" in board  # the board tile
    csrf = _csrf(page.text)
    # An operator calls maintenance from the terminal (the API the terminal's script uses).
    op = as_role("operator")
    terminal = op.get("/terminal?machine=WLD-01").text
    assert 'id="mt-call"' in terminal and "PM-CAL" in terminal
    raised = op.post("/api/v1/maintenance/breakdowns", json={"machine": "WLD-01", "description": "leak"})
    assert raised.status_code == 201, raised.text
    code = raised.json()["code"]
    again = op.post("/api/v1/maintenance/breakdowns", json={"machine": "WLD-01"}, headers={"Accept-Language": "vi"})
    assert again.status_code == 409 and again.json()["code"] == "maintenance.breakdown_open"
    assert "đã có yêu cầu" in again.json()["detail"]
    assert op.post(f"/api/v1/maintenance/orders/{code}/acknowledge").status_code == 403  # not maintenance staff
    after = op.get("/terminal?machine=WLD-01").text  # the terminal shows the open request, no second button
    assert 'class="mt-breakdown"' in after and code in after and 'id="mt-call"' not in after
    r = sup.post(f"/maintenance/orders/{code}/acknowledge", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    r = sup.post(f"/maintenance/orders/{code}/close", follow_redirects=False,
                 data={"csrf_token": csrf, "parts": "seal; 2; 12.5", "labour_minutes": "45",
                       "hourly_rate": "40"})  # fmt: skip
    assert r.status_code == 303
    orders = sup.get("/api/v1/maintenance/orders?machine=WLD-01").json()
    assert (orders[0]["status"], orders[0]["cost"], orders[0]["parts"][0]["part"]) == ("closed", 55.0, "seal")
    # A bad number is refused on the page in the user's language, and nothing is written.
    sup.post("/lang", data={"lang": "ko", "csrf_token": csrf, "next": "/maintenance"})
    bad = sup.post("/maintenance/moulds", data={"csrf_token": csrf, "code": "MD-X", "cavities": "zero"})
    assert bad.status_code == 422
    assert error_message(MaintenanceNumberInvalid(field="cavities", minimum=1, value="zero"), "ko") in bad.text
    assert sup.get("/api/v1/moulds").json() == []
    # Moulds: made, mounted, refused when mounted twice.
    assert (
        sup.post(
            "/maintenance/moulds",
            data={"csrf_token": csrf, "code": "MD-1", "cavities": "4", "life_shots": "100000"},
            follow_redirects=False,
        ).status_code
        == 303
    )
    assert sup.post("/maintenance/moulds/MD-1/mount", data={"csrf_token": csrf, "machine": "WLD-01"},
                    follow_redirects=False).status_code == 303  # fmt: skip
    assert "mt-mounts" in sup.get("/maintenance").text  # its mounting history
    twice = sup.post("/maintenance/moulds/MD-1/mount", data={"csrf_token": csrf, "machine": "WLD-02"})
    assert error_message(MouldMounted(mould="MD-1", machine="WLD-01"), "ko") in twice.text
    reliability = sup.get(
        "/api/v1/maintenance/reliability",
        params={"machine": "WLD-01", "start": long_ago.isoformat(), "end": datetime.now(timezone.utc).isoformat()},
    ).json()
    assert (reliability["failures"], reliability["cost"]) == (1, 55.0)
    assert reliability["mttr_s"] is not None


def test_an_operator_cannot_plan_maintenance(app, as_role):
    op = as_role("operator")
    r = op.post("/api/v1/maintenance/plans", json={"code": "X", "trigger": "calendar", "interval": 1,
                                                    "machine": "WLD-01"})  # fmt: skip
    assert r.status_code == 403


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed (./run setup)")
def test_maintenance_in_the_browser_in_three_languages(sqlite_only, app, live_server, browser):  # noqa: F811
    engine = app.state.engine
    long_ago = datetime.now(timezone.utc) - timedelta(days=29)
    mnt.create_mould(engine, "cli:root", code="MD-7", name="bezel 2-cav", cavities=2, life_shots=300_000)
    mnt.mount_mould(engine, "cli:root", "MD-7", machine="WLD-02")
    mnt.create_maintenance_plan(engine, "cli:root", code="PM-M1", name="monthly", trigger="calendar", interval=30,
                                warn_before=3, machine="WLD-02", checklist=["oil", "filters"],
                                last_done_at=long_ago)  # fmt: skip
    shots = artefacts()
    page = browser.new_page(viewport=TABLET)
    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", "supervisor")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    for lang, title in (("ko", "설비보전"), ("en", "Maintenance"), ("vi", "Bảo trì")):
        page.goto(f"{live_server}/maintenance")
        page.locator(f"form.langs button[value={lang}]").click()
        page.wait_for_load_state()
        assert page.locator("h1").inner_text() == title
        assert page.locator("tr.due-due").count() == 1
        page.screenshot(path=str(shots / f"maintenance-{lang}.png"), full_page=True)
    # The operator's terminal: the PM coming due and the mould, then a breakdown call.
    op = browser.new_page(viewport={"width": 412, "height": 915})
    op.goto(f"{live_server}/login")
    op.fill("input[name=username]", "operator")
    op.fill("input[name=password]", PASSWORD)
    op.click("button[type=submit]")
    op.goto(f"{live_server}/terminal?machine=WLD-02")
    assert op.locator("#maintenance .mt-due").count() == 1 and "MD-7" in op.locator("#maintenance").inner_text()
    op.fill("#mt-description", "oil leak")
    op.click("#mt-call")
    op.wait_for_selector("#mt-status.ok")
    op.screenshot(path=str(shots / "terminal-maintenance-called.png"), full_page=True)
    page.goto(f"{live_server}/board")
    assert page.locator("#tile-WLD-02 .mt-breakdown").count() == 1
    page.screenshot(path=str(shots / "board-maintenance-vi.png"))


def test_the_terminal_shows_the_revision_in_force_and_the_operator_confirms_it(app, as_role):
    mgr, op = as_role("manager"), as_role("operator")
    assert mgr.post("/api/v1/documents", json={"code": "WI-9", "title": "Weld drum A", "kind": "work_instruction",
                                               "item": "DRUM-A"}).status_code == 201  # fmt: skip
    up = mgr.post("/api/v1/documents/WI-9/revisions", data={"revision": "C"},
                  files={"file": ("wi.pdf", b"%PDF-1.4 rev C", "application/pdf")})  # fmt: skip
    assert up.status_code == 201, up.text
    assert op.post("/api/v1/documents/WI-9/revisions/C/approve").status_code == 403
    assert mgr.post("/api/v1/documents/WI-9/revisions/C/approve").status_code == 200
    assert mgr.post("/api/v1/work-orders", json={"code": "WO-9", "product": "DRUM-A", "quantity": 3,
                                                 "machine": "WLD-01"}).status_code == 201  # fmt: skip
    assert as_role("supervisor").post("/api/v1/work-orders/WO-9/transition", json={"to": "released"}).status_code == 200
    page = op.get("/terminal?machine=WLD-01").text
    assert 'data-document="WI-9" data-revision="C" data-work-order="WO-9"' in page
    assert op.get("/api/v1/documents/WI-9/revisions/C/file").content == b"%PDF-1.4 rev C"
    start = {"key": "k-start-9", "ts": datetime.now(timezone.utc).isoformat(), "machine": "WLD-01",
             "action": "start", "work_order": "WO-9"}  # fmt: skip
    refused = op.post("/api/v1/pop/entries", json=start, headers={"Accept-Language": "vi"})
    assert refused.status_code == 409 and refused.json()["code"] == "document.not_confirmed"
    assert "Hãy đọc và xác nhận phiên bản C" in refused.json()["detail"]
    ok = op.post("/api/v1/documents/confirmations", json={"document": "WI-9", "revision": "C", "work_order": "WO-9",
                                                          "machine": "WLD-01"})  # fmt: skip
    assert ok.status_code == 201, ok.text
    assert "doc-ok" in op.get("/terminal?machine=WLD-01").text
    assert op.post("/api/v1/pop/entries", json=start).status_code in (200, 201)


def test_the_skills_matrix_page(app, as_role):
    sup = as_role("supervisor")
    page = sup.get("/skills")
    assert page.status_code == 200
    csrf = _csrf(page.text)
    assert sup.post("/skills", data={"csrf_token": csrf, "code": "WELD-2G", "name": "Welding 2G"},
                    follow_redirects=False).status_code == 303  # fmt: skip
    assert (
        sup.post(
            "/skills/certify",
            data={"csrf_token": csrf, "username": "op-pin", "skill": "WELD-2G", "expires": "2099-12-31"},
            follow_redirects=False,
        ).status_code
        == 303
    )
    bad = sup.post("/skills/certify", data={"csrf_token": csrf, "username": "op-pin", "skill": "WELD-2G",
                                            "expires": "31.12.2099"})  # fmt: skip
    assert bad.status_code == 422
    assert error_message(SkillExpiryInvalid(value="31.12.2099"), "ko") in bad.text
    again = sup.get("/skills").text
    assert 'class="sk-valid"' in again and "WELD-2G" in again
    assert as_role("operator").post("/skills", data={"csrf_token": csrf, "code": "X"}).status_code == 403


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed (./run setup)")
def test_documents_skills_and_the_terminal_in_the_browser(sqlite_only, app, live_server, browser):  # noqa: F811
    from shopfloor.actions.demo_materials import sample_master
    from shopfloor.actions.demo_mould_shop import load_mould_shop
    from shopfloor.actions.skills import certify_operator
    from shopfloor.actions.work_orders import create_work_order, transition_work_order
    from shopfloor.store.master import save_master
    from shopfloor.store.plant import current_plant

    engine = app.state.engine
    with engine.begin() as conn:
        save_master(conn, sample_master(current_plant(conn)), "test")
    load_mould_shop(engine, datetime.now(timezone.utc))
    certify_operator(engine, "cli:root", "operator", skill="NC-5AX", expires_at=datetime.now(timezone.utc)
                     + timedelta(days=20))  # fmt: skip
    create_work_order(engine, "cli:root", code="WO-CORE-7", product="MOULD-CORE", quantity=2, machine="NC-01")
    transition_work_order(engine, "cli:root", "WO-CORE-7", "released")
    shots = artefacts()
    page = browser.new_page(viewport=TABLET)
    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", "manager")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    titles = (("ko", "문서 및 NC 프로그램"), ("en", "Documents and NC programs"), ("vi", "Tài liệu và chương trình NC"))
    for lang, title in titles:
        page.goto(f"{live_server}/documents")
        page.locator(f"form.langs button[value={lang}]").click()
        page.wait_for_load_state()
        assert page.locator("h1").inner_text() == title
        assert page.locator("#doc-NC-CORE-10 .doc-current").inner_text() == "2"
        assert page.locator("#doc-NC-CORE-10 tr.rev-superseded").count() == 1
        page.screenshot(path=str(shots / f"documents-{lang}.png"), full_page=True)
        page.goto(f"{live_server}/skills")
        assert page.locator("td.sk-expiring").count() == 1
        page.screenshot(path=str(shots / f"skills-{lang}.png"), full_page=True)
    # The operator at NC-01: the work instruction and the NC program in force, confirmed one by one; then start.
    op = browser.new_page(viewport={"width": 1024, "height": 768})
    op.goto(f"{live_server}/login")
    op.fill("input[name=username]", "operator")
    op.fill("input[name=password]", PASSWORD)
    op.click("button[type=submit]")
    op.goto(f"{live_server}/terminal?machine=NC-01")
    op.locator("form.langs button[value=vi]").click()
    op.wait_for_load_state()
    op.goto(f"{live_server}/terminal?machine=NC-01")
    assert op.locator("#documents .doc-confirm").count() == 2
    op.screenshot(path=str(shots / "terminal-documents-vi.png"), full_page=True)
    op.locator('button.order-pick[data-work-order="WO-CORE-7"]').click()
    op.wait_for_selector("#status.bad")
    assert "Hãy đọc và xác nhận" in op.locator("#status").inner_text()
    op.screenshot(path=str(shots / "terminal-documents-refused-vi.png"), full_page=True)
    for _ in range(2):
        op.locator("#documents .doc-confirm").first.click()
        op.wait_for_timeout(300)
    assert op.locator("#documents .doc-ok").count() == 2
    op.screenshot(path=str(shots / "terminal-documents-confirmed-vi.png"), full_page=True)
