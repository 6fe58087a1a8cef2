"""Master data and a lot genealogy of six levels with splits and merges, shared by the lot tests."""

from __future__ import annotations

from sqlalchemy import insert

from shopfloor.actions.demo import sample_plant
from shopfloor.model.work_orders import Status
from shopfloor.store import lots
from shopfloor.store import work_orders as wo
from shopfloor.store.plant import save_plant
from shopfloor.store.schema import bom_lines, customers, items, locations, suppliers

ITEMS = [
    ("COIL", "Steel coil", "raw", "kg"),
    ("WIRE", "용접 와이어", "raw", "kg"),
    ("SHELL", "Drum shell", "wip", "pcs"),
    ("DRUM", "Dây hàn drum", "wip", "pcs"),
    ("DRUM-A", "Dryer drum A", "finished", "pcs"),
]


def add_master_data(conn, with_plant: bool = True):
    """The sample plant (unless saved already) and a small master data set: items with a three-level BOM,
    suppliers, a customer, locations.  Returns the plant."""
    plant = sample_plant()
    if with_plant:
        save_plant(conn, plant, "test")
    conn.execute(insert(items), [dict(zip(("code", "name", "kind", "unit"), i)) for i in ITEMS])
    conn.execute(
        insert(bom_lines),
        [
            {"parent": "SHELL", "component": "COIL", "quantity": 2.5, "scrap_pct": 2.0},
            {"parent": "DRUM", "component": "SHELL", "quantity": 1, "scrap_pct": 0.0},
            {"parent": "DRUM", "component": "WIRE", "quantity": 0.2, "scrap_pct": 5.0},
            {"parent": "DRUM-A", "component": "DRUM", "quantity": 1, "scrap_pct": 0.0},
        ],
    )
    conn.execute(insert(suppliers), [{"code": "POSCO", "name": "포스코"}, {"code": "HYOSUNG", "name": "Hyosung"}])
    conn.execute(insert(customers), [{"code": "LGE", "name": "LG Electronics"}])
    conn.execute(
        insert(locations),
        [
            {"code": "WH", "name": "Raw store", "kind": "store"},
            {"code": "LINE-1", "name": "Weld line side", "kind": "line"},
            {"code": "QA", "name": "Quarantine", "kind": "quarantine"},
        ],
    )
    return plant


def start_order(conn, plant, code, product, machine="WLD-01", start=True):
    wo.create(conn, plant, code, product, 100, "planner", machine=machine)
    wo.transition(conn, code, Status.RELEASED, "planner")
    if start:
        wo.transition(conn, code, Status.IN_PROGRESS, "op")
    return code


def five_levels(conn, plant):
    """coil (2 lots) -> split -> merge -> shell (WO-1) -> drum (WO-2, with wire) -> finished (WO-3) -> split -> ship."""
    lots.receive(conn, "COIL", 100, "clerk", code="COIL-A", supplier="POSCO", supplier_lot="P-1")
    lots.receive(conn, "COIL", 100, "clerk", code="COIL-B", supplier="POSCO", supplier_lot="P-2")
    lots.receive(conn, "COIL", 100, "clerk", code="COIL-X", supplier="POSCO", supplier_lot="P-3")  # unrelated
    lots.receive(conn, "WIRE", 20, "clerk", code="WIRE-1", supplier="HYOSUNG", supplier_lot="H-9")
    lots.split(conn, "COIL-A", [40], "op")  # COIL-A-1
    lots.merge(conn, ["COIL-A-1", "COIL-B"], "op", code="COIL-M")  # level: merge
    start_order(conn, plant, "WO-1", "SHELL", machine="WLD-01")
    lots.issue(conn, "COIL-M", 140, "WO-1", "op-1")
    lots.produce(conn, "WO-1", 50, "op-1", code="SHELL-1")
    wo.transition(conn, "WO-1", Status.COMPLETED, "op-1")
    start_order(conn, plant, "WO-2", "DRUM", machine="WLD-02")
    lots.issue(conn, "SHELL-1", 50, "WO-2", "op-2")
    lots.issue(conn, "WIRE-1", 10, "WO-2", "op-2")
    lots.produce(conn, "WO-2", 50, "op-2", code="DRUM-1")
    wo.transition(conn, "WO-2", Status.COMPLETED, "op-2")
    start_order(conn, plant, "WO-3", "DRUM-A", machine="CNC-01")
    lots.issue(conn, "DRUM-1", 50, "WO-3", "op-3")
    lots.produce(conn, "WO-3", 50, "op-3", code="FG-1")
    lots.split(conn, "FG-1", [20, 30], "ship")  # FG-1-1, FG-1-2
    lots.ship(conn, "FG-1-1", 20, "LGE", "ship", shipment="DN-77")
