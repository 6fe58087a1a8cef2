"""Lot pages: list with inventory and receiving, a lot's page with actions by role, movements and genealogy."""

from __future__ import annotations

import re

import pytest

from shopfloor.errors import LotActionNotAllowed, QuantityNotPositive
from tests.lots_data import add_master_data, five_levels
from tests.web.test_pages import csrf_of, page_login, refusal_shown


@pytest.fixture
def lots_app(app):
    with app.state.engine.begin() as conn:
        plant = add_master_data(conn, with_plant=False)
        five_levels(conn, plant)
    return app


def test_lot_pages_need_a_signed_in_user(anonymous):
    for path in ("/lots", "/lots/FG-1"):
        r = anonymous.get(path, follow_redirects=False)
        assert r.status_code == 303 and "login" in r.headers["location"]


def test_receive_from_the_list_page_and_see_the_lot(lots_app):
    client = page_login(lots_app, "supervisor")
    page = client.get("/lots")
    assert page.status_code == 200 and "FG-1-2" in page.text and "로트 입고" in page.text  # a Seoul site: Korean
    key = re.search(r'action="/lots/receive".*?name="key" value="([0-9a-f]+)"', page.text, re.S).group(1)
    form = {"item": "COIL", "qty": "12,5", "supplier": "POSCO", "supplier_lot": "P-55", "location": "WH"}
    form |= {"certificate": "MTC-9", "key": key, "csrf_token": csrf_of(page.text)}
    first = client.post("/lots/receive", data=form, follow_redirects=False)
    again = client.post("/lots/receive", data=form, follow_redirects=False)  # the form sent twice
    assert first.status_code == 303 and again.headers["location"] == first.headers["location"]
    lot = client.get(first.headers["location"])
    assert "12.5 kg" in lot.text and "P-55" in lot.text and "MTC-9" in lot.text
    bad = client.post("/lots/receive", data=form | {"key": "k2", "qty": "-3"})
    assert bad.status_code == 422 and refusal_shown(QuantityNotPositive(what="quantity", value="-3")) in bad.text


def test_actions_follow_the_role_and_refusals_show_their_reason(lots_app):
    operator = page_login(lots_app, "operator")
    page = operator.get("/lots/FG-1-2")
    assert 'value="hold"' not in page.text and 'value="ship"' in page.text
    denied = operator.post(
        "/lots/FG-1-2/action", data={"action": "hold", "reason": "x", "csrf_token": csrf_of(page.text)}
    )
    assert denied.status_code == 403
    quality = page_login(lots_app, "quality")
    token = csrf_of(quality.get("/lots/FG-1-2").text)
    held = quality.post("/lots/FG-1-2/action", data={"action": "hold", "reason": "dent found", "csrf_token": token})
    assert held.status_code == 200 and "dent found" in held.text  # followed the redirect to the lot page
    again = quality.post("/lots/FG-1-2/action", data={"action": "hold", "reason": "again", "csrf_token": token})
    can = ["adjust", "move", "release", "return", "scrap"]
    refusal = LotActionNotAllowed(lot="FG-1-2", status="hold", action="hold", can=can)
    assert again.status_code == 409 and refusal_shown(refusal) in again.text
    no_csrf = quality.post("/lots/FG-1-2/action", data={"action": "release", "reason": "ok"})
    assert no_csrf.status_code == 403


def test_lot_page_shows_both_directions_of_the_genealogy_in_korean(lots_app):
    client = page_login(lots_app, "manager")
    client.post("/lang", data={"lang": "ko", "next": "/lots/SHELL-1", "csrf_token": csrf_of(client.get("/lots").text)})
    page = client.get("/lots/SHELL-1")
    assert "투입 원천 (역추적)" in page.text and "사용처 (순추적)" in page.text
    backward, forward = page.text.split("사용처 (순추적)")
    assert "COIL-A" in backward and "COIL-B" in backward and "FG-1-1" in forward and "LGE" in forward
