"""The plant pages: each form is one audited change checked as the YAML import checks it; refusals in the user's
language with the store unchanged; only administrators change the plant; the plant file still round-trips."""

import yaml

from shopfloor.actions.plant import parse_plant_document
from shopfloor.errors import PlantEntityInUse
from shopfloor.i18n import error_message
from shopfloor.store import audit
from shopfloor.store.plant import load_plant


def _csrf(page: str) -> str:
    return page.split('name="csrf_token" value="')[1].split('"')[0]


def test_an_admin_builds_the_plant_on_its_pages(app, as_role, engine):
    admin = as_role("admin")
    page = admin.get("/admin/plant")
    assert page.status_code == 200 and "WLD-01" in page.text
    token = _csrf(page.text)

    def post(kind, **form):
        return admin.post(f"/admin/plant/{kind}", data={"csrf_token": token, "op": "save", **form})

    assert post("area", code="A9", name="Press shop").url.fragment == "area"
    post("line", code="PRESS", name="Press line", area="A9")
    post("machine", code="PRS-01", name="Press 1", type="press", line="PRESS")
    post("product", code="BRACKET", name="Bracket", ideal_cycle_s="6,5", cycle_by_machine="PRS-01=6")
    post("shift", name="Weekend", start="08:00", end="16:00", sun="1", breaks="10:00-10:20")
    r = admin.post("/admin/plant/holiday", data={"csrf_token": token, "op": "add", "date": "2026-12-24"})
    assert r.status_code == 200, r.text[-2000:]
    post("extra_shift", date="2026-12-05", name="Sat-extra", start="15:00", end="19:00")
    with engine.connect() as conn:
        plant = load_plant(conn)
        actions = [e["action"] for e in audit.entries(conn, 7)]
    assert plant.machine("PRS-01").kind == "press" and plant.line("PRESS").area == "A9"
    assert plant.product("BRACKET").ideal_cycle_s == 6.5 and plant.ideal_cycle("BRACKET", "PRS-01") == 6.0
    assert plant.calendar.shifts[-1].name == "Weekend" and len(plant.calendar.shifts[-1].breaks) == 1
    assert {"plant.extra_shift.save", "plant.holiday.save"} <= set(actions), actions
    page = admin.get("/admin/plant")
    assert "Sat-extra" in page.text and "2026-12-24" in page.text

    # The plant file downloaded from the page is read again into the same plant.
    text = admin.get("/admin/plant/plant.yaml").text
    assert parse_plant_document(text, "plant.yaml").to_dict() == plant.to_dict()
    assert yaml.safe_load(text)["calendar"]["extra_shifts"][0]["name"] == "Sat-extra"


def test_refusals_are_shown_in_the_language_and_change_nothing(app, as_role, engine):
    admin = as_role("admin")
    admin.cookies.set("sf_lang", "vi")
    token = _csrf(admin.get("/admin/plant").text)
    with engine.connect() as conn:
        before = load_plant(conn).to_dict()
    r = admin.post("/admin/plant/product", data={"csrf_token": token, "op": "save", "code": "X", "ideal_cycle_s": "-3"})
    assert r.status_code == 422 and "products[" in r.text and "ideal_cycle_s" in r.text
    assert 'value="-3"' in r.text  # what was typed stays
    r = admin.post("/admin/plant/line", data={"csrf_token": token, "op": "remove", "code": "WELD"})
    assert r.status_code == 409
    held = PlantEntityInUse(kind="line", code="WELD", holds="WLD-01, WLD-02")
    assert error_message(held, "vi") in r.text
    with engine.connect() as conn:
        assert load_plant(conn).to_dict() == before


def test_only_an_administrator_changes_the_plant(app, as_role):
    for role in ("operator", "supervisor", "manager"):
        client = as_role(role)
        page = client.get("/admin/plant")
        assert page.status_code == 200 and '/admin/plant/machine"' not in page.text  # no forms
        r = client.post("/admin/plant/area", data={"csrf_token": _csrf(page.text), "code": "Z"})
        assert r.status_code == 403
