"""The demo's material flow: master data, lots of the three shops, and a genealogy the trace can follow."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from shopfloor.actions.demo import load_demo
from shopfloor.store import trace
from shopfloor.store.db import open_store
from shopfloor.store.schema import lots, machine_events


def test_demo_day_has_lots_orders_and_a_shipment_traceable_to_the_steel_supplier(tmp_path):
    engine = open_store(str(tmp_path / "demo.db"))
    load_demo(engine, seed=3, day=date(2026, 3, 2))
    load_demo(engine, seed=3, day=date(2026, 3, 2))  # a second load adds nothing and does not fail
    with engine.connect() as conn:
        shipped = conn.execute(select(lots.c.code).where(lots.c.status == "shipped")).scalar_one()
        back = trace.trace(conn, shipped, trace.BACKWARD)
        held = conn.execute(select(lots.c.code).where(lots.c.status == "hold")).scalars().all()
        attributed = conn.execute(select(func.count()).where(machine_events.c.work_order.is_not(None))).scalar_one()
    suppliers = {n["supplier"] for n in back.lots() if n.get("supplier")}
    assert suppliers == {"HANSOL-STEEL", "DONGA-WIRE"}
    assert max(n["depth"] for n in back.lots()) >= 3 and len(back.orders) == 2
    assert held and attributed > 0
    engine.dispose()
