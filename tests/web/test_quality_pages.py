"""Quality pages: characteristics with their charts and sample entry, nonconformances opened and decided."""

from __future__ import annotations

import re

import pytest

from shopfloor.errors import LotNotFound, RulesInvalid, SampleSize
from tests.lots_data import add_master_data
from tests.web.test_pages import csrf_of, page_login, refusal_shown


@pytest.fixture
def qapp(app):
    from shopfloor.store import inspections as insp
    from shopfloor.store import lots

    with app.state.engine.begin() as conn:
        plant = add_master_data(conn, with_plant=False)
        char = insp.save_characteristic(
            conn,
            plant,
            {"product": "DRUM-A", "code": "BEAD-W", "name": "Bead width", "kind": "variable", "chart": "xbar-r",
             "lsl": 1.7, "usl": 2.3, "sample_size": 3},
        )  # fmt: skip
        for g in ([2.0, 2.01, 1.99], [2.02, 2.0, 1.98], [1.99, 2.0, 2.01]):
            insp.record(conn, char, "qa", measurements_=g)
        lots.receive(conn, "COIL", 40, "clerk", code="C1")
    app.state.char_id = char.id
    return app


def test_a_characteristic_page_shows_its_charts_and_records_a_sample(qapp):
    client = page_login(qapp, "operator")
    cid = qapp.state.char_id
    page = client.get(f"/quality/characteristics/{cid}")
    assert page.status_code == 200 and page.text.count('class="chart control"') == 2
    # Each chart (X-bar and R) is SVG drawn on the server, one marked point per sample.
    assert page.text.count('class="chart-svg"') == 2 and page.text.count('class="pt') == 6
    cp, cpk = map(float, re.search(r'<p class="capability">Cp ([0-9.]+) ·\s+Cpk ([0-9.]+) ·', page.text).groups())
    assert 0 < cpk <= cp  # both indices computed from the three samples, the process centred at most as well as spread
    key = re.search(r'name="key" value="([0-9a-f]+)"', page.text).group(1)
    form = {"values": "2,0 2.01 1.98", "lot": "C1", "key": key, "csrf_token": csrf_of(page.text)}
    assert client.post(f"/quality/characteristics/{cid}/samples", data=form, follow_redirects=False).status_code == 303
    client.post(f"/quality/characteristics/{cid}/samples", data=form)  # sent twice: one sample
    bad = client.post(f"/quality/characteristics/{cid}/samples", data=form | {"key": "k2", "values": "2.0"})
    refusal = SampleSize(characteristic="BEAD-W", size=3, count=1)
    assert bad.status_code == 422 and refusal_shown(refusal) in bad.text
    with qapp.state.engine.connect() as conn:
        from shopfloor.store import inspections as insp

        assert insp.sample_count(conn, insp.get(conn, cid)) == 4


def test_an_ncr_is_opened_on_the_quality_page_and_decided_by_quality(qapp):
    operator = page_login(qapp, "operator")
    page = operator.get("/quality")
    assert f'<a href="/quality/characteristics/{qapp.state.char_id}">BEAD-W · Bead width</a>' in page.text
    opened = operator.post(
        "/quality/ncrs",
        data={"description": "dented edge", "lot": "C1", "qty": "4", "csrf_token": csrf_of(page.text)},
    )
    assert opened.status_code == 200 and "dented edge" in opened.text and 'action="/quality/ncrs/' not in opened.text
    quality = page_login(qapp, "quality")
    page = quality.get("/quality")
    code = re.search(r'action="/quality/ncrs/(NCR-[0-9-]+)/disposition"', page.text).group(1)
    decided = quality.post(
        f"/quality/ncrs/{code}/disposition",
        data={"disposition": "scrap", "note": "dent cut out", "csrf_token": csrf_of(page.text)},
    )
    assert decided.status_code == 200 and "dent cut out" in decided.text
    lot = quality.get("/lots/C1")
    assert "36 kg" in lot.text
    token = csrf_of(operator.get("/quality").text)
    refused = operator.post("/quality/ncrs", data={"description": "x", "lot": "NOPE", "csrf_token": token})
    assert refused.status_code == 404 and refusal_shown(LotNotFound(lot="NOPE")) in refused.text


def test_quality_sets_chart_options_and_voids_a_sample_on_the_characteristic_page(qapp):
    client = page_login(qapp, "quality")
    cid = qapp.state.char_id
    page = client.get(f"/quality/characteristics/{cid}")
    assert "관리도 설정" in page.text and "무효 처리" in page.text  # the quality user reads Korean
    token = csrf_of(page.text)
    saved = client.post(
        f"/quality/characteristics/{cid}/settings",
        data={"rules": "we:1,4=7", "nsigmas": "2,5", "capability_on": "all", "valid_max": "5", "csrf_token": token},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    page = client.get(f"/quality/characteristics/{cid}")
    assert "we:1,4=7" in page.text
    refused = client.post(f"/quality/characteristics/{cid}/settings", data={"rules": "nelson:9", "csrf_token": token})
    unreadable = RulesInvalid(problem="rules 'nelson:9': nelson has rules 1, 2, 3, 4, 5, 6, 7, 8, not '9'")
    assert refused.status_code == 422 and refusal_shown(unreadable) in refused.text
    sid = int(re.findall(r"/samples/(\d+)/void", page.text)[0])
    voided = client.post(
        f"/quality/characteristics/{cid}/samples/{sid}/void", data={"reason": "typed twice", "csrf_token": token}
    )
    assert voided.status_code == 200 and "typed twice" in voided.text
    operator = page_login(qapp, "operator")
    own_token = csrf_of(operator.get(f"/quality/characteristics/{cid}").text)
    denied = operator.post(
        f"/quality/characteristics/{cid}/samples/{sid}/exclude", data={"reason": "x", "csrf_token": own_token}
    )
    assert denied.status_code == 403
