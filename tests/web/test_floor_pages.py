"""Error pages for people: a browser opening an address that fails gets a page in its reader's language (not a
problem document), scripts and API clients get the problem document; a failure of the server itself is a 500
with a reference, logged."""

from fastapi.testclient import TestClient

from shopfloor.errors import ServerFault
from shopfloor.i18n import error_translation
from tests.conftest import PASSWORD

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def sign_in_page(app, username: str, lang: str) -> TestClient:
    client = TestClient(app, raise_server_exceptions=False)
    client.cookies.set("sf_lang", lang)
    r = client.post("/login", data={"username": username, "password": PASSWORD, "next": "/"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return client


def test_a_browser_gets_error_pages_in_its_language_and_scripts_get_problems(app):
    op = sign_in_page(app, "operator", "ko")
    page = op.get("/api/v1/lots/NOPE/label.pdf", headers=BROWSER)
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert '<html lang="ko"' in page.text and "찾을 수 없음" in page.text
    script = op.get("/api/v1/lots/NOPE/label.pdf", headers={"Accept": "*/*", "Accept-Language": "ko"})
    assert script.status_code == 404 and script.headers["content-type"] == "application/problem+json"
    nowhere = op.get("/no/such/page", headers=BROWSER)
    assert nowhere.status_code == 404 and "text/html" in nowhere.headers["content-type"]
    forbidden = op.get("/admin/reports", headers=BROWSER)
    assert forbidden.status_code == 403 and "권한 없음" in forbidden.text


def test_a_failure_of_the_server_is_a_page_with_a_reference(app, caplog):
    def boom():
        raise RuntimeError("a bug")

    app.add_api_route("/api/v1/boom-for-test", boom)
    client = sign_in_page(app, "operator", "vi")
    page = client.get("/api/v1/boom-for-test", headers=BROWSER)
    assert page.status_code == 500 and "text/html" in page.headers["content-type"]
    assert "Lỗi máy chủ" in page.text and "a bug" not in page.text
    reference = next(r for r in caplog.records if "reference" in r.getMessage()).args[-1]
    vi = ServerFault(reference=reference).translated(error_translation("vi"))
    assert vi in page.text
    api = client.get("/api/v1/boom-for-test", headers={"Accept": "application/json"})
    assert api.status_code == 500 and api.json()["code"] == "server.fault"


def test_managers_keep_the_reason_codes_on_their_page_and_others_may_not(app):
    import re

    from shopfloor.errors import ReasonColourBad
    from shopfloor.store.plant import current_plant

    operator = sign_in_page(app, "operator", "ko")
    assert operator.get("/admin/reasons", headers=BROWSER).status_code == 403
    manager = sign_in_page(app, "manager", "ko")
    page = manager.get("/admin/reasons")
    assert page.status_code == 200 and "레이저 고장" in page.text and "금형교체" in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    form = {
        "csrf_token": csrf,
        "kind": "defects",
        "code": "찍힘",
        "group": "surface",
        "icon": "",
        "colour": "#aa0000",
        "machines": "CNC, NC-01",
        "name_ko": "찍힘",
        "name_vi": "Vết lõm",
        "name_ne": "डेन्ट",
        "new": "1",
    }
    assert operator.post("/admin/reasons", data={**form, "csrf_token": "x"}).status_code == 403
    saved = manager.post("/admin/reasons", data=form, follow_redirects=False)
    assert saved.status_code == 303
    with app.state.engine.connect() as conn:
        plant = current_plant(conn)
    assert plant.reason("찍힘").machines == ("CNC", "NC-01") and plant.reason_name("찍힘", "vi") == "Vết lõm"
    refused = manager.post("/admin/reasons", data={**form, "code": "찍힘2", "colour": "빨강"})
    assert (
        refused.status_code == 422
        and ReasonColourBad(colour="빨강").translated(error_translation("ko")) in refused.text
    )
    assert 'value="찍힘2"' in refused.text  # what was typed stays in the form
    gone = manager.post("/admin/reasons/delete", data={"csrf_token": csrf, "kind": "defects", "code": "찍힘"},
                        follow_redirects=False)  # fmt: skip
    assert gone.status_code == 303


def test_the_terminal_offers_the_machines_reasons_by_name(app):
    client = TestClient(app)
    client.cookies.set("sf_lang", "vi")
    client.post("/terminal/login", data={"who": "B-1001", "pin": "4821"})
    page = client.get("/terminal?machine=NC-01").text
    assert 'data-reason="금형교체"' in page and "Thay khuôn" in page
    assert 'data-reason="LASER_FAULT"' not in page  # a laser fault is not a reason on an NC mill
    welder = client.get("/terminal?machine=WLD-01").text
    assert 'data-reason="LASER_FAULT"' in welder and "Lỗi laser" in welder and "Rỗ khí" in welder
