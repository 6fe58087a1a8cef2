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
    assert "<html lang=\"ko\"" in page.text and "찾을 수 없음" in page.text
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
