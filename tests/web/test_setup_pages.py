"""The guided set-up of a new store: every page leads to it (never a raw refusal), it makes the plant and the first
administrator through the action, refuses bad input in the user's language with the store unchanged, and is
closed once a plant exists."""

import pytest
from fastapi.testclient import TestClient

from shopfloor.app import create_app
from shopfloor.errors import PasswordsDiffer, SetupDone
from shopfloor.i18n import error_message
from shopfloor.settings import Settings
from shopfloor.store import audit
from shopfloor.store.first_run import has_plant, has_users
from shopfloor.store.plant import load_plant
from tests.conftest import PASSWORD

FORM = {
    "site_code": "ANSAN",
    "site_name": "안산 공장",
    "timezone": "Asia/Seoul",
    "area_code": "A1",
    "line_code": "PRESS",
    "line_name": "프레스 라인",
    "machine_code": "PRS-01",
    "machine_name": "프레스 1",
    "shift0_name": "Day",
    "shift0_start": "08:00",
    "shift0_end": "17:00",
    **{f"shift0_{d}": "1" for d in ("mon", "tue", "wed", "thu", "fri")},
    "shift0_break_start": "12:00",
    "shift0_break_end": "13:00",
    "shift1_name": "Night",
    "shift1_start": "22:00",
    "shift1_end": "06:00",
    **{f"shift1_{d}": "1" for d in ("mon", "tue", "wed", "thu")},
    "username": "kim",
    "display_name": "김 부장",
    "password": PASSWORD,
    "password2": PASSWORD,
    "language": "ko",
}


@pytest.fixture
def empty_app(engine):
    return create_app(Settings(db="sqlite://"), engine)


@pytest.mark.parametrize("path", ["/", "/board", "/terminal", "/reports", "/quality", "/admin/plant"])
def test_every_page_of_an_empty_store_leads_to_the_set_up(empty_app, path):
    client = TestClient(empty_app)
    r = client.get(path)
    assert r.status_code == 200 and r.url.path == "/setup"
    assert "text/html" in r.headers["content-type"]
    assert 'name="site_code"' in r.text and 'name="password2"' in r.text


def test_the_set_up_makes_the_plant_and_the_first_admin_signed_in(empty_app, engine):
    client = TestClient(empty_app)
    r = client.post("/setup", data=FORM, headers={"Accept-Language": "ko"})
    assert r.status_code == 200 and r.url.path == "/admin/plant", r.text[:500]
    with engine.connect() as conn:
        plant = load_plant(conn)
        entries = audit.entries(conn, limit=10)
    assert plant.site.code == "ANSAN" and plant.site.timezone == "Asia/Seoul"
    assert [m.code for m in plant.machines] == ["PRS-01"] and plant.lines[0].name == "프레스 라인"
    assert [(s.name, s.start.hour, s.end.hour, len(s.breaks)) for s in plant.calendar.shifts] == [
        ("Day", 8, 17, 1),
        ("Night", 22, 6, 0),
    ]
    assert {(e["action"], e["actor"]) for e in entries} >= {("plant.setup", "user:kim"), ("user.create", "user:kim")}
    # The administrator is signed in and the board of the new plant opens.
    board = client.get("/board")
    assert board.status_code == 200 and "PRS-01" in board.text
    # The set-up is closed now: the page goes to the plant pages, a post is refused.
    assert client.get("/setup").url.path == "/admin/plant"
    again = TestClient(empty_app).post("/setup", data={**FORM, "site_code": "OTHER"})
    assert (
        again.status_code == 409 and error_message(SetupDone(site="ANSAN"), "ko") in again.text
    )  # the site is in Seoul


def test_bad_input_is_refused_in_the_language_with_the_store_unchanged(empty_app, engine):
    client = TestClient(empty_app, cookies={"sf_lang": "vi"})
    r = client.post("/setup", data={**FORM, "password2": "other-password"})
    assert r.status_code == 422 and error_message(PasswordsDiffer(), "vi") in r.text
    r = client.post(
        "/setup", data={**FORM, "timezone": "Mars/Olympus", "machine_code": "bad code", "shift0_end": "25:00"}
    )
    assert r.status_code == 422
    assert "site.timezone" in r.text and "machines[0].code" in r.text and "calendar.shifts[0].end" in r.text
    assert 'value="PRESS"' in r.text  # what was typed stays in the form
    with engine.connect() as conn:
        assert has_plant(conn) is None and not has_users(conn)


def test_once_users_exist_only_an_admin_sets_up(empty_app, engine):
    from shopfloor.actions.accounts import create_user

    for role in ("operator", "admin"):
        create_user(engine, "cli:root", username=role, role=role, password=PASSWORD)
    anonymous = TestClient(empty_app)
    assert anonymous.get("/board").url.path == "/login"
    assert anonymous.post("/setup", data=FORM, follow_redirects=False).headers["location"].startswith("/login")
    operator = TestClient(empty_app)
    operator.post("/login", data={"username": "operator", "password": PASSWORD})
    assert operator.get("/setup").status_code == 403
    admin = TestClient(empty_app)
    admin.post("/login", data={"username": "admin", "password": PASSWORD})
    page = admin.get("/board")
    assert page.url.path == "/setup" and 'name="password2"' not in page.text  # no second first administrator
    csrf = page.text.split('name="csrf_token" value="')[2].split('"')[0]
    r = admin.post("/setup", data={**FORM, "csrf_token": csrf})
    assert r.url.path == "/admin/plant"
    with engine.connect() as conn:
        assert has_plant(conn) == "ANSAN"
        assert ("plant.setup", "user:admin") in {(e["action"], e["actor"]) for e in audit.entries(conn)}
