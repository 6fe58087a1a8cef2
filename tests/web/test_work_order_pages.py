"""Work order pages: create, change, release, reorder, run to closed; an ERP file previewed row by row with its
problems (nothing created) and then created all together; only planners change orders."""

import io

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
    sup.post("/work-orders/WO-B/assign", data={"csrf_token": token, "machine": "WLD-01", "priority": "0", "due": "2026-12-11"})
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
    bad = "작업지시번호,품목코드,지시수량,납기일,설비\nE-1,DRUM-A,\"1,200\",2026.12.10,WLD-01\nE-1,NOPE,2.5,2026.12.11,X-9\n"
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
    r = sup.post("/work-orders/import", data={"csrf_token": token}, files={"file": ("erp.xlsx", good, "application/octet-stream")})
    assert 'name="commit"' in r.text and "E-11" in r.text
    content = r.text.split('name="content" value="')[1].split('"')[0]
    r = sup.post("/work-orders/import", data={"csrf_token": token, "content": content, "filename": "erp.xlsx", "commit": "1"})
    assert r.url.path == "/work-orders" and "E-10" in r.text
    with engine.connect() as conn:
        assert (store.get(conn, "E-10").quantity, store.get(conn, "E-10").priority) == (120, 3)
        assert store.get(conn, "E-11").quantity == 40
        assert audit.entries(conn, 1)[0]["action"] == "work_order.import"
    # The same file again: every order exists now, none created twice.
    r = sup.post("/work-orders/import", data={"csrf_token": token, "content": content, "filename": "erp.xlsx", "commit": "1"})
    assert r.status_code == 422 and error_message(WorkOrderExists(work_order="E-10"), "ko") in r.text


def test_only_planners_change_orders(app, as_role):
    for role in ("operator", "quality"):
        client = as_role(role)
        page = client.get("/work-orders")
        assert page.status_code == 200 and 'action="/work-orders/import"' not in page.text
        r = client.post("/work-orders", data={"csrf_token": _csrf(page.text), "code": "X", "product": "DRUM-A", "quantity": "1"})
        assert r.status_code == 403
