"""Nonconformance reports (NCRs): what was found, on which lot, order and machine, and the decision on it.

Opening an NCR on a lot that is in use puts the lot on hold, so it cannot be issued or shipped while the NCR is
open.  The disposition closes the NCR and acts on the lot:

- ``scrap``: the nonconforming quantity is scrapped (with the defect code); what is left is released;
- ``rework``: the lot is released to be reworked (the note says how);
- ``use_as_is``: the lot is released as it is (a concession; the note says who accepted it);
- ``return_to_supplier``: the nonconforming quantity goes back to the lot's supplier; what is left is released.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from shopfloor.errors import (
    DispositionNoteMissing,
    DispositionUnknown,
    NcrCharacteristicUnknown,
    NcrClosed,
    NcrDescriptionMissing,
    NcrNotFound,
    NcrQuantityTooLarge,
    NcrSubjectMissing,
    NcrWorkOrderUnknown,
)
from shopfloor.model.lots import LotStatus, qty_text, to_milli
from shopfloor.store import lots as lot_store
from shopfloor.store.locks import lock_name
from shopfloor.store.schema import inspection_characteristics, lot_movements, ncrs, work_orders

DISPOSITIONS = ("scrap", "rework", "use_as_is", "return_to_supplier")


def _doc(row: Any) -> dict[str, Any]:
    return {
        "code": row.code,
        "opened_at": row.opened_at.isoformat(),
        "opened_by": row.opened_by,
        "lot": row.lot,
        "work_order": row.work_order,
        "machine": row.machine,
        "characteristic_id": row.characteristic_id,
        "defect": row.defect,
        "qty": qty_text(row.qty_milli) if row.qty_milli is not None else None,
        "description": row.description,
        "status": row.status,
        "disposition": row.disposition,
        "disposed_at": row.disposed_at.isoformat() if row.disposed_at else None,
        "disposed_by": row.disposed_by,
        "disposition_note": row.disposition_note,
    }


def get(conn: Connection, code: str) -> dict[str, Any]:
    row = conn.execute(select(ncrs).where(ncrs.c.code == code)).first()
    if row is None:
        raise NcrNotFound(ncr=code)
    return _doc(row)


def listing(conn: Connection, status: str | None = None, lot: str | None = None, limit: int = 200) -> list[dict]:
    query = select(ncrs).order_by(ncrs.c.id.desc()).limit(limit)
    if status:
        query = query.where(ncrs.c.status == status)
    if lot:
        query = query.where(ncrs.c.lot == lot)
    return [_doc(r) for r in conn.execute(query)]


def of_lots(conn: Connection, codes: list[str]) -> list[dict[str, Any]]:
    if not codes:
        return []
    return [_doc(r) for r in conn.execute(select(ncrs).where(ncrs.c.lot.in_(codes)).order_by(ncrs.c.id))]


def _new_code(conn: Connection, ts: datetime) -> str:
    prefix = f"NCR-{ts:%y%m%d}-"
    lock_name(conn, "ncr_code", prefix)
    n = int(conn.execute(select(func.count()).where(ncrs.c.code.like(f"{prefix}%"))).scalar_one()) + 1
    while conn.execute(select(ncrs.c.id).where(ncrs.c.code == f"{prefix}{n:03d}")).first():
        n += 1
    return f"{prefix}{n:03d}"


def open_ncr(
    conn: Connection,
    description: str,
    actor: str,
    *,
    lot: str | None = None,
    qty: Any = None,
    work_order: str | None = None,
    machine: str | None = None,
    characteristic_id: int | None = None,
    defect: str | None = None,
    key: str | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    if key:
        lock_name(conn, "ncr_key", key)
        done = conn.execute(select(ncrs).where(ncrs.c.key == key)).first()
        if done is not None:
            return _doc(done)
    if not (description or "").strip():
        raise NcrDescriptionMissing()
    if lot is None and work_order is None and machine is None:
        raise NcrSubjectMissing()
    milli = None
    if qty is not None:
        milli = to_milli(qty)
    if lot is not None:
        found = lot_store.get(conn, lot, lock=True)
        if milli is not None and milli > found.qty_milli and found.status in (LotStatus.ACTIVE, LotStatus.HOLD):
            raise NcrQuantityTooLarge(lot=lot, qty=found.qty, unit=found.unit, wanted=qty_text(milli))
    if (
        work_order is not None
        and conn.execute(select(work_orders.c.id).where(work_orders.c.code == work_order)).first() is None
    ):
        raise NcrWorkOrderUnknown(work_order=work_order)
    if characteristic_id is not None and (
        conn.execute(
            select(inspection_characteristics.c.id).where(inspection_characteristics.c.id == characteristic_id)
        ).first()
        is None
    ):
        raise NcrCharacteristicUnknown(characteristic=characteristic_id)
    ts = at or datetime.now(timezone.utc)
    code = _new_code(conn, ts)
    conn.execute(
        insert(ncrs).values(
            code=code,
            opened_at=ts,
            opened_by=actor,
            lot=lot,
            work_order=work_order,
            machine=machine,
            characteristic_id=characteristic_id,
            defect=defect,
            qty_milli=milli,
            description=description.strip(),
            status="open",
            key=key,
        )
    )
    if lot is not None and lot_store.get(conn, lot).status is LotStatus.ACTIVE:
        lot_store.hold(conn, lot, f"{code}: {description.strip()[:200]}", actor, at=ts)
    return get(conn, code)


def dispose(
    conn: Connection, code: str, disposition: str, note: str, actor: str, *, at: datetime | None = None
) -> dict[str, Any]:
    """Decide an open NCR and act on its lot (see the module's description)."""
    row = conn.execute(select(ncrs).where(ncrs.c.code == code).with_for_update()).first()
    if row is None:
        raise NcrNotFound(ncr=code)
    if row.status != "open":
        raise NcrClosed(ncr=code, disposition=row.disposition)
    if disposition not in DISPOSITIONS:
        raise DispositionUnknown(dispositions=DISPOSITIONS, disposition=disposition)
    if not (note or "").strip():
        raise DispositionNoteMissing()
    ts = at or datetime.now(timezone.utc)
    if row.lot is not None:
        lot = lot_store.get(conn, row.lot, lock=True)
        qty = qty_text(row.qty_milli) if row.qty_milli is not None else None
        usable = lot.status in (LotStatus.ACTIVE, LotStatus.HOLD)
        if disposition in ("scrap", "return_to_supplier") and usable:
            take = None if qty is None or row.qty_milli >= lot.qty_milli else qty
            if disposition == "scrap":
                lot = lot_store.scrap(conn, row.lot, take, actor, defect=row.defect or code, at=ts)
            else:
                lot = lot_store.return_to_supplier(conn, row.lot, take, actor, note=f"{code}: {note.strip()}", at=ts)
        if lot.status is LotStatus.HOLD and _held_by_ncr(conn, lot.id) and not _other_open(conn, row.lot, code):
            lot_store.release(conn, row.lot, f"{code} {disposition}: {note.strip()}", actor, at=ts)
    conn.execute(
        update(ncrs)
        .where(ncrs.c.id == row.id)
        .values(status="closed", disposition=disposition, disposed_at=ts, disposed_by=actor, disposition_note=note)
    )
    return get(conn, code)


def _held_by_ncr(conn: Connection, lot_id: int) -> bool:
    """Whether the lot's current hold came from an NCR (a hold for another reason stays until released)."""
    mv = lot_movements.c
    note = conn.execute(
        select(mv.note).where(mv.lot_id == lot_id, mv.kind == "hold").order_by(mv.id.desc()).limit(1)
    ).scalar()
    return bool(note and note.startswith("NCR-"))


def _other_open(conn: Connection, lot: str, code: str) -> bool:
    """Another NCR on the lot still open keeps it on hold."""
    return (
        conn.execute(select(ncrs.c.id).where(ncrs.c.lot == lot, ncrs.c.status == "open", ncrs.c.code != code)).first()
        is not None
    )
