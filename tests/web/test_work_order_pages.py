"""Work order pages: create, change, release, reorder, run to closed; an ERP file previewed row by row with its
problems (nothing created) and then created all together; only planners change orders."""

import io
import re

from openpyxl import Workbook

from shopfloor.errors import AppearsTwice, MachineUnknown, NotWholeNumber, ProductUnknown, WorkOrderExists
from shopfloor.i18n import error_message
from shopfloor.store import audit
from shopfloor.store import work_orders as store


def _csrf(page: str) -> str:
    return page.split('name="csrf_token" value="')[1].split('"')[0]


def test_a_planner_runs_orders_on_the_pages(app, as_role, engine):
    sup = as_role("supervisor")
    token = _csrf(sup.get("/work-orders").text)
    for code, priority in (("WO-A", "1"), ("WO-B", "0")):
        r = sup.post("/work-orders", data={"csrf_token": token, "code": code, "product": "DRUM-A", "quantity": "50",
                                           "machine": "WLD-01", "priority": priority, "due": "2026-12-10"})  # fmt: skip
        assert r.status_code == 200 and r.url.path == f"/work-orders/{code}"
    # Edit: another machine and due date.
    sup.post(
        "/work-orders/WO-B/assign",
        data={"csrf_token": token, "machine": "WLD-01", "priority": "0", "due": "2026-12-11"},
    )
    # Reorder: WO-B moves above WO-A (they are renumbered: the first has the highest priority).
    r = sup.post("/work-orders/reorder", data={"csrf_token": token, "code": "WO-B", "direction": "up"})
    assert r.url.path == "/work-orders" and r.text.index("WO-B") < r.text.index("WO-A")
    with engine.connect() as conn:
        assert (store.get(conn, "WO-B").priority, store.get(conn, "WO-A").priority) == (2, 1)
    for step in ("released", "in_progress", "completed", "closed"):
        r = sup.post("/work-orders/WO-B/transition", data={"csrf_token": token, "to": step})
        assert r.status_code == 200 and r.url.path == "/work-orders/WO-B"
    with engine.connect() as conn:
        assert store.get(conn, "WO-B").status.value == "closed"
        assert store.get(conn, "WO-B").due.astimezone().date().isoformat() == "2026-12-11"
        done = [e["action"] for e in audit.entries(conn, 8)]
    assert {"work_order.create", "work_order.assign", "work_order.reorder", "work_order.status"} <= set(done)
    page = sup.get("/work-orders/WO-B")
    assert "closed" in page.text or "종료" in page.text
    # An illegal step is refused on the page, in the user's language.
    r = sup.post("/work-orders/WO-B/transition", data={"csrf_token": token, "to": "released"})
    assert r.status_code == 409


def _xlsx(rows) -> bytes:
    wb = Workbook()
    for r in rows:
        wb.active.append(r)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_an_erp_file_is_previewed_with_its_problems_then_created(app, as_role, engine):
    sup = as_role("supervisor")
    sup.cookies.set("sf_lang", "ko")
    token = _csrf(sup.get("/work-orders").text)
    with engine.connect() as conn:
        before = len(store.list_orders(conn))
    # A CP949 CSV as a Korean ERP writes it: headers in Korean, thousands separators, dotted dates.
    bad = (
        '작업지시번호,품목코드,지시수량,납기일,설비\nE-1,DRUM-A,"1,200",2026.12.10,WLD-01\n'
        "E-1,NOPE,2.5,2026.12.11,X-9\n"
    )
    r = sup.post("/work-orders/import", data={"csrf_token": token},
                 files={"file": ("orders.csv", bad.encode("cp949"), "text/csv")})  # fmt: skip
    assert r.status_code == 200 and 'data-row="2"' in r.text and 'data-row="3"' in r.text
    for error in (AppearsTwice(value="E-1", row=2), ProductUnknown(product="NOPE"), NotWholeNumber(value="2.5"),
                  MachineUnknown(machine="X-9")):  # fmt: skip
        assert error_message(error, "ko") in r.text
    assert 'name="commit"' not in r.text
    with engine.connect() as conn:
        assert len(store.list_orders(conn)) == before
    # An Excel export without problems: previewed, then created together.
    good = _xlsx([["Order No", "Material", "Qty", "Due date", "Priority"], ["E-10", "DRUM-A", 120, "2026-12-10", 3],
                  ["E-11", "TM-CASE", 40.0, "20261211", None]])  # fmt: skip
    r = sup.post(
        "/work-orders/import",
        data={"csrf_token": token},
        files={"file": ("erp.xlsx", good, "application/octet-stream")},
    )
    assert 'name="commit"' in r.text and "E-11" in r.text
    content = r.text.split('name="content" value="')[1].split('"')[0]
    r = sup.post(
        "/work-orders/import", data={"csrf_token": token, "content": content, "filename": "erp.xlsx", "commit": "1"}
    )
    assert r.url.path == "/work-orders" and "E-10" in r.text
    with engine.connect() as conn:
        assert (store.get(conn, "E-10").quantity, store.get(conn, "E-10").priority) == (120, 3)
        assert store.get(conn, "E-11").quantity == 40
        assert audit.entries(conn, 1)[0]["action"] == "work_order.import"
    # The same file again: every order exists now, none created twice.
    r = sup.post(
        "/work-orders/import", data={"csrf_token": token, "content": content, "filename": "erp.xlsx", "commit": "1"}
    )
    assert r.status_code == 422 and error_message(WorkOrderExists(work_order="E-10"), "ko") in r.text


def test_only_planners_change_orders(app, as_role):
    for role in ("operator", "quality"):
        client = as_role(role)
        page = client.get("/work-orders")
        assert page.status_code == 200 and 'action="/work-orders/import"' not in page.text
        r = client.post(
            "/work-orders", data={"csrf_token": _csrf(page.text), "code": "X", "product": "DRUM-A", "quantity": "1"}
        )
        assert r.status_code == 403


def test_a_planner_corrects_an_order_on_its_page(app, as_role, engine):
    from datetime import datetime, timezone

    from shopfloor.errors import WorkOrderQuantityBelowGood
    from shopfloor.model.events import CountEvent, CountKind
    from shopfloor.store.events import append_events
    from shopfloor.web.pages import plant_of

    sup = as_role("supervisor")
    token = _csrf(sup.get("/work-orders").text)
    sup.post("/work-orders", data={"csrf_token": token, "code": "WO-E", "product": "DRUM-A", "quantity": "50",
                                   "machine": "WLD-01", "priority": "2", "due": "2026-12-10"})  # fmt: skip
    listed = sup.get("/work-orders").text
    assert 'href="/work-orders/WO-E#edit"' in listed
    page = sup.get("/work-orders/WO-E").text
    form = page.split('id="edit"')[1].split("</form>")[0]
    for prefilled in ('name="product" required maxlength="64" list="products" value="DRUM-A"', 'value="50"',
                      "<option selected>WLD-01</option>", 'name="priority" inputmode="numeric" value="2"',
                      'value="2026-12-10"'):  # fmt: skip
        assert prefilled in form, prefilled
    fields = {"csrf_token": token, "product": "TM-CASE", "quantity": "60", "machine": "WLD-02", "operator": "",
              "priority": "2", "due": "2026-12-12"}  # fmt: skip
    r = sup.post("/work-orders/WO-E/edit", data=fields)
    assert (r.status_code, r.url.path, r.url.query) == (200, "/work-orders/WO-E", b"saved=1")
    assert 'role="status"' in r.text
    history = r.text.split("<table")[-1]  # the correction in the page's language, the due dates as the plant's
    assert re.search(r"(Changed|변경): (Product|제품) DRUM-A → TM-CASE, (Quantity|수량) 50 → 60, .* → WLD-02", history)
    assert "11:59" in history.split("→ WLD-02")[0] and "T14:59" not in history.split("→ WLD-02")[0]
    with engine.connect() as conn:
        order = store.get(conn, "WO-E")
        entry = audit.entries(conn, 1)[0]
    assert (order.product, order.quantity, order.machine, order.priority) == ("TM-CASE", 60, "WLD-02", 2)
    assert order.due.astimezone(plant_of(engine).site.tz).date().isoformat() == "2026-12-12"
    changed = ["due", "machine", "product", "quantity"]
    assert (entry["action"], sorted(entry["detail"]["after"])) == ("work_order.edit", changed)
    # Started: product, machine and operator are shown but not sent; the quantity never below the good units.
    for step in ("released", "in_progress"):
        sup.post("/work-orders/WO-E/transition", data={"csrf_token": token, "to": step})
    with engine.begin() as conn:
        append_events(conn, [CountEvent(datetime.now(timezone.utc), "WLD-02", CountKind.GOOD, 55, work_order="WO-E")])
    form = sup.get("/work-orders/WO-E").text.split('id="edit"')[1].split("</form>")[0]
    assert 'value="TM-CASE" disabled' in form and '<select name="machine" disabled>' in form
    sup.cookies.set("sf_lang", "ko")
    r = sup.post("/work-orders/WO-E/edit", data={"csrf_token": token, "quantity": "52", "priority": "2", "due": ""})
    refusal = error_message(WorkOrderQuantityBelowGood(work_order="WO-E", quantity=52, good=55), "ko")
    assert r.status_code == 409 and refusal in r.text and "55" in refusal
    assert 'name="quantity" required inputmode="numeric" value="52"' in r.text  # shown again as typed
    r = sup.post("/work-orders/WO-E/edit", data={"csrf_token": token, "quantity": "sixty"})
    assert r.status_code == 422
    with engine.connect() as conn:
        assert (store.get(conn, "WO-E").quantity, store.get(conn, "WO-E").due is not None) == (60, True)
    # Only planners, with the form's token.
    assert sup.post("/work-orders/WO-E/edit", data={"csrf_token": "wrong", "quantity": "70"}).status_code == 403
    op = as_role("operator")
    page = op.get("/work-orders/WO-E").text
    assert 'id="edit"' not in page
    assert op.post("/work-orders/WO-E/edit", data={"csrf_token": _csrf(page), "quantity": "70"}).status_code == 403
