"""Saving and loading master data (items, BOM lines, routings, suppliers, customers, locations) in the store.

The downtime reason and defect codes belong to the plant document; saving master data with other codes than the
plant's writes a new plant version.  A code that a lot refers to is never deleted.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Table, bindparam, delete, insert, select, update

from shopfloor.errors import MasterCodesInUse, MasterDataRefused, MasterNeedsPlant
from shopfloor.model.master import BomLine, Item, Location, MasterData, Operation, Partner
from shopfloor.model.plant import Plant
from shopfloor.store import rollups
from shopfloor.store.locks import lock_name
from shopfloor.store.plant import current_plant, load_plant, save_plant
from shopfloor.store.schema import bom_lines, customers, items, locations, lots, operations, sites, suppliers

_CHUNK = 500


def _plant(conn: Connection) -> Plant | None:
    """The store's plant, or None when no plant has been imported."""
    if conn.execute(select(sites.c.id).limit(1)).first() is None:
        return None
    return current_plant(conn)


def plant_codes(conn: Connection) -> set[str] | None:
    """Codes of the plant's machines and lines (the possible work centres), or None without a plant."""
    plant = _plant(conn)
    if plant is None:
        return None
    return {m.code for m in plant.machines} | {ln.code for ln in plant.lines}


def load_master(conn: Connection) -> MasterData:
    """All master data, each table in key order; reason and defect codes come from the current plant (empty
    when no plant has been imported)."""
    plant = _plant(conn)
    data = MasterData(
        items=tuple(Item(**r) for r in conn.execute(select(items)).mappings()),
        bom_lines=tuple(BomLine(**r) for r in conn.execute(select(bom_lines)).mappings()),
        operations=tuple(Operation(**r) for r in conn.execute(select(operations)).mappings()),
        suppliers=tuple(Partner(**r) for r in conn.execute(select(suppliers)).mappings()),
        customers=tuple(Partner(**r) for r in conn.execute(select(customers)).mappings()),
        locations=tuple(Location(**r) for r in conn.execute(select(locations)).mappings()),
        downtime_reasons=plant.downtime_reasons if plant else (),
        defect_codes=plant.defect_codes if plant else (),
    )
    # Sorted here rather than in SQL so that the order does not depend on the database's collation.
    return data.sorted()


def save_master(conn: Connection, data: MasterData, actor: str) -> dict[str, Any]:
    """Replace all master data with ``data``, in the caller's transaction; returns the number of rows per table.

    ``data`` is validated first (work centres against the plant's machines and lines when a plant is imported)
    and ``MasterDataRefused`` raised on any problem.  ``MasterCodesInUse`` is raised, before anything is written,
    when an item, location or supplier that a lot refers to would be deleted, ``MasterNeedsPlant`` when ``data``
    has downtime reason or defect codes but no plant is imported.  Reason and defect codes different from the
    plant's are saved as a new plant version (which rebuilds the KPI rollups, as every plant import does).
    """
    lock_name(conn, "master_data")
    plant = _plant(conn)
    codes = None if plant is None else {m.code for m in plant.machines} | {ln.code for ln in plant.lines}
    problems = data.problems(codes)
    if problems:
        raise MasterDataRefused(problems)
    if plant is None and (data.downtime_reasons or data.defect_codes):
        raise MasterNeedsPlant()
    _refuse_deleting_used_codes(conn, data)

    conn.execute(delete(bom_lines))
    conn.execute(delete(operations))
    _replace(conn, items, "code", [dataclasses.asdict(i) for i in data.items])
    _replace(conn, locations, "code", [dataclasses.asdict(loc) for loc in data.locations])
    _replace(conn, suppliers, "code", [dataclasses.asdict(p) for p in data.suppliers])
    _replace(conn, customers, "code", [dataclasses.asdict(p) for p in data.customers])
    if data.bom_lines:
        conn.execute(insert(bom_lines), [dataclasses.asdict(b) for b in data.bom_lines])
    if data.operations:
        conn.execute(insert(operations), [dataclasses.asdict(o) for o in data.operations])

    plant_updated = False
    if plant is not None and (
        plant.downtime_reasons != data.downtime_reasons or plant.defect_codes != data.defect_codes
    ):
        new_plant = dataclasses.replace(plant, downtime_reasons=data.downtime_reasons, defect_codes=data.defect_codes)
        save_plant(conn, new_plant, actor)
        rollups.refresh(conn, load_plant(conn, plant.site.code))
        plant_updated = True

    summary: dict[str, Any] = {
        "items": len(data.items),
        "bom_lines": len(data.bom_lines),
        "operations": len(data.operations),
        "suppliers": len(data.suppliers),
        "customers": len(data.customers),
        "locations": len(data.locations),
        "downtime_reasons": len(data.downtime_reasons),
        "defect_codes": len(data.defect_codes),
        "plant_updated": plant_updated,
    }
    return summary


def _refuse_deleting_used_codes(conn: Connection, data: MasterData) -> None:
    keep = {
        "items": ({i.code for i in data.items}, lots.c.item),
        "locations": ({loc.code for loc in data.locations}, lots.c.location),
        "suppliers": ({p.code for p in data.suppliers}, lots.c.supplier),
    }
    missing = []
    for what, (codes, column) in keep.items():
        used = set(conn.execute(select(column).where(column.is_not(None)).distinct()).scalars())
        gone = sorted(used - codes)
        if gone:
            missing.append(f"{what} {', '.join(gone)}")
    if missing:
        raise MasterCodesInUse(codes="; ".join(missing))


def _replace(conn: Connection, table: Table, key: str, rows: Sequence[dict[str, Any]]) -> None:
    """Make ``table`` hold exactly ``rows``: delete the rows whose key is absent, update changed rows, insert new
    ones.  Rows that stay are updated in place, so rows of other tables that refer to them remain valid."""
    existing = {r[key]: dict(r) for r in conn.execute(select(table)).mappings()}
    wanted = {r[key] for r in rows}
    for chunk in _chunks(sorted(set(existing) - wanted)):
        conn.execute(delete(table).where(table.c[key].in_(chunk)))
    changed = [r for r in rows if r[key] in existing and existing[r[key]] != r]
    if changed:
        others = [c.name for c in table.columns if c.name != key]
        stmt = (
            update(table)
            .where(table.c[key] == bindparam("_key"))
            .values({name: bindparam(f"_{name}") for name in others})
        )
        conn.execute(stmt, [{"_key": r[key], **{f"_{n}": r[n] for n in others}} for r in changed])
    new = [r for r in rows if r[key] not in existing]
    if new:
        conn.execute(insert(table), new)


def _chunks(values: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def item(conn: Connection, code: str) -> Item | None:
    row = conn.execute(select(items).where(items.c.code == code)).mappings().first()
    return None if row is None else Item(**row)


def location(conn: Connection, code: str) -> Location | None:
    row = conn.execute(select(locations).where(locations.c.code == code)).mappings().first()
    return None if row is None else Location(**row)


def supplier(conn: Connection, code: str) -> Partner | None:
    row = conn.execute(select(suppliers).where(suppliers.c.code == code)).mappings().first()
    return None if row is None else Partner(**row)


def customer(conn: Connection, code: str) -> Partner | None:
    row = conn.execute(select(customers).where(customers.c.code == code)).mappings().first()
    return None if row is None else Partner(**row)
