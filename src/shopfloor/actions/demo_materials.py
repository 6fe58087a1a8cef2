"""The demo's materials: the sample master data, and a day of material flow through the three shops.

Raw lots are received from suppliers, issued to work orders, turned into WIP and finished lots, split, moved and
shipped, one casting lot is held by quality, so the lot pages, the trace and the recall report show a genealogy
of several levels.  Work orders run on the machines over the same day as the simulated machine history, so the
machines' counts are attributed to them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from importlib import resources
from typing import Any

import numpy as np
import yaml
from sqlalchemy import Connection, select

from shopfloor.model.master import BomLine, Item, Location, MasterData, Operation, Partner
from shopfloor.model.plant import Plant
from shopfloor.model.work_orders import Status
from shopfloor.store import inspections as insp
from shopfloor.store import lots
from shopfloor.store import ncr as ncr_store
from shopfloor.store import work_orders as wo
from shopfloor.store.master import save_master
from shopfloor.store.schema import lots as lot_table


def sample_master(plant: Plant) -> MasterData:
    doc = yaml.safe_load(resources.files("shopfloor.data").joinpath("sample_master.yaml").read_text("utf-8"))
    return MasterData(
        items=[Item(**d) for d in doc["items"]],
        bom_lines=[BomLine(**d) for d in doc["bom_lines"]],
        operations=[Operation(**d) for d in doc["operations"]],
        suppliers=[Partner(**d) for d in doc["suppliers"]],
        customers=[Partner(**d) for d in doc["customers"]],
        locations=[Location(**d) for d in doc["locations"]],
        downtime_reasons=plant.downtime_reasons,
        defect_codes=plant.defect_codes,
    )


def has_lots(conn: Connection) -> bool:
    return conn.execute(select(lot_table.c.id).limit(1)).first() is not None


def _order(conn, plant, code, product, qty, machine, start: datetime, actor: str) -> str:
    wo.create(conn, plant, code, product, qty, "planner", machine=machine, priority=1)
    wo.transition(conn, code, Status.RELEASED, "planner", at=start - timedelta(hours=1))
    wo.transition(conn, code, Status.IN_PROGRESS, actor, at=start)
    return code


def load_materials(conn: Connection, plant: Plant, day_start: datetime) -> dict[str, Any]:
    """Master data and the material flow of the demo day (``day_start`` is the local start of the day, aware)."""
    save_master(conn, sample_master(plant), "demo")
    t = day_start
    d = f"{t:%y%m%d}"

    def at(hours: float) -> datetime:
        return t + timedelta(hours=hours)

    received = [
        ("STEEL-COIL", 2400, f"SC-{d}-1", "HANSOL-STEEL", "HS24-0871", {"certificate": "MTC-24-0871", "heat": "H5512"}),
        ("STEEL-COIL", 2350, f"SC-{d}-2", "HANSOL-STEEL", "HS24-0874", {"certificate": "MTC-24-0874", "heat": "H5519"}),
        ("WELD-WIRE", 60, f"WW-{d}-1", "DONGA-WIRE", "DA-7731", None),
        ("TM-CASTING", 120, f"TC-{d}-1", "MEKONG-CAST", "MK-3310", None),
        ("DF-CASTING", 150, f"DC-{d}-1", "MEKONG-CAST", "MK-3322", None),
        ("DF-CASTING", 80, f"DC-{d}-2", "MEKONG-CAST", "MK-3325", None),
        ("TOOL-STEEL", 95, f"TS-{d}-1", "SEOHAE-TOOL", "SH-118", None),
    ]
    for item, qty, code, supplier, supplier_lot, certificate in received:
        lots.receive(
            conn,
            item,
            qty,
            "clerk",
            code=code,
            location="WH-RAW",
            supplier=supplier,
            supplier_lot=supplier_lot,
            certificate=certificate,
            at=at(-20),
        )

    # Yesterday evening's shells, today's drums from them, one pallet shipped.
    lots.split(conn, f"SC-{d}-1", [800], "clerk", location="LINE-WELD", at=at(-12))
    shell = _order(conn, plant, f"WO-{d}-SH", "DRUM-SHELL", 300, "WLD-01", at(-11), "op-1")
    lots.issue(conn, f"SC-{d}-1-1", 800, shell, "op-1", at=at(-11))
    lots.issue(conn, f"SC-{d}-2", 460, shell, "op-1", at=at(-8))
    lots.produce(conn, shell, 150, "op-1", code=f"SH-{d}-1", location="WIP", at=at(-7))
    lots.produce(conn, shell, 148, "op-1", code=f"SH-{d}-2", location="WIP", at=at(-3))
    wo.transition(conn, shell, Status.COMPLETED, "op-1", at=at(-3))
    drum = _order(conn, plant, f"WO-{d}-DR", "DRUM-A", 600, "WLD-02", at(0), "op-2")
    lots.issue(conn, f"SH-{d}-1", 150, drum, "op-2", at=at(0.2))
    lots.split(conn, f"WW-{d}-1", [20], "op-2", location="LINE-WELD", at=at(0.1))
    lots.issue(conn, f"WW-{d}-1-1", 12, drum, "op-2", at=at(0.3))
    fg = lots.produce(conn, drum, 144, "op-2", location="FG", at=at(4))
    lots.move(conn, fg.code, "SHIP", "clerk", at=at(5))
    lots.ship(conn, fg.code, 144, "HANBIT-APPL", "clerk", shipment=f"DN-{d}-01", at=at(6))
    lots.issue(conn, f"SH-{d}-2", 148, drum, "op-2", at=at(4.2))

    # Machining: castings into cases; a casting lot held for a porosity complaint.
    tm = _order(conn, plant, f"WO-{d}-TM", "TM-CASE", 120, "CNC-01", at(0), "op-3")
    lots.issue(conn, f"TC-{d}-1", 60, tm, "op-3", at=at(0.5))
    lots.produce(conn, tm, 18, "op-3", location="WIP", at=at(6))
    df = _order(conn, plant, f"WO-{d}-DF", "DF-CASE", 200, "CNC-03", at(0), "op-3")
    lots.merge(conn, [f"DC-{d}-1", f"DC-{d}-2"], "clerk", code=f"DC-{d}-M", location="LINE-CNC", at=at(0.2))
    lots.issue(conn, f"DC-{d}-M", 120, df, "op-3", at=at(0.4))
    lots.produce(conn, df, 40, "op-3", location="FG", at=at(5))
    ncr_store.open_ncr(
        conn,
        "porosity found at OP10 on 3 castings - supplier complaint MK-17",
        "quality",
        lot=f"TC-{d}-1",
        qty=3,
        work_order=tm,
        machine="CNC-01",
        defect="POROSITY",
        at=at(6.5),
    )

    # The mould shop: one long order.
    mould = _order(conn, plant, f"WO-{d}-MC", "MOULD-CORE", 4, "NC-01", at(0), "op-1")
    lots.issue(conn, f"TS-{d}-1", 37, mould, "op-1", at=at(0.5))
    _inspections(conn, plant, at, {"WLD-02": drum, "CNC-01": tm, "CNC-03": df})
    return {"orders": [shell, drum, tm, df, mould], "shipped": fg.code}


CHARACTERISTICS = [
    {"product": "DRUM-A", "code": "BEAD-W", "name": "Weld bead width", "kind": "variable", "chart": "xbar-r",
     "unit": "mm", "nominal": 2.0, "lsl": 1.7, "usl": 2.3, "sample_size": 5, "every_parts": 50, "phase1": 20},
    {"product": "DRUM-A", "code": "LASER-P", "name": "Laser power", "kind": "variable", "chart": "imr",
     "unit": "W", "sample_size": 1, "machine": "WLD-01", "process_value": "laser_power"},
    {"product": "TM-CASE", "code": "BORE-D", "name": "Bearing bore diameter", "kind": "variable", "chart": "xbar-s",
     "unit": "mm", "nominal": 62.0, "lsl": 61.97, "usl": 62.03, "sample_size": 4, "every_parts": 10,
     "operation_seq": 10, "phase1": 15},
    {"product": "DF-CASE", "code": "VISUAL", "name": "Visual check (burrs, porosity)", "kind": "attribute",
     "chart": "p", "sample_size": 50, "every_minutes": 60},
]  # fmt: skip


def _inspections(conn: Connection, plant: Plant, at, orders: dict[str, str]) -> None:
    """Characteristics of the demo's products and a day of samples: the bead width drifts up late in the day."""
    rng = np.random.default_rng(11)
    chars = {c["code"]: insp.save_characteristic(conn, plant, c) for c in CHARACTERISTICS}
    for i in range(30):
        shift = 0.09 if i >= 26 else 0.0
        bead = (rng.normal(2.0 + shift, 0.04, 5)).round(3).tolist()
        insp.record(conn, chars["BEAD-W"], "kim", measurements_=bead, machine="WLD-02", work_order=orders["WLD-02"],
                    ts=at(0.2 + i * 0.2), source="terminal")  # fmt: skip
    for i in range(20):
        bore = rng.normal(62.002, 0.006, 4).round(4).tolist()
        insp.record(conn, chars["BORE-D"], "smith", measurements_=bore, machine="CNC-01", work_order=orders["CNC-01"],
                    ts=at(0.6 + i * 0.3), source="terminal")  # fmt: skip
    for i in range(12):
        bad = int(rng.binomial(50, 0.04)) if i != 9 else 9
        insp.record(conn, chars["VISUAL"], "nguyen", inspected=50, nonconforming=bad, machine="CNC-03",
                    work_order=orders["CNC-03"], defect="BURR", ts=at(0.5 + i * 0.5), source="terminal")  # fmt: skip
