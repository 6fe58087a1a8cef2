"""Lots in the store: receiving, issuing to a work order, producing, splitting, merging, holds, moves, shipping,
scrapping and counts.  Every change is a row of ``lot_movements`` (signed quantity, balance after, who, where,
why), and every lot made from other lots gets ``lot_links`` rows: the genealogy that trace follows.

All functions work in the caller's transaction and lock the lots they change (``FOR UPDATE`` on PostgreSQL;
SQLite writers take turns anyway).  A request may carry an idempotency ``key``: a request repeated with the
same key (a double tap, a retried POST) returns the first result and changes nothing.

Genealogy of production: an output lot of a work order is linked to every lot issued to that order up to
then, with the quantity issued (lot-to-lot through the order).  When several output lots come from one
order, each is linked to all of its inputs so far: for a recall this errs on the side of including a lot.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from shopfloor.errors import (
    CertificateInvalid,
    CountNeedsReason,
    CustomerUnknown,
    HoldNeedsReason,
    IssueOrderNotRunning,
    ItemUnknown,
    LocationUnknown,
    LotAlreadyThere,
    LotCodeTooLong,
    LotExists,
    LotNoSupplier,
    LotNotFound,
    LotShort,
    LotSplitTooMuch,
    MergeItemsDiffer,
    MergeNeedsTwo,
    NotInBom,
    OutputOrderNotRunning,
    ReleaseNeedsReason,
    RequestKeyReused,
    SplitCodesCount,
    SplitNeedsQuantity,
    SupplierUnknown,
    WorkOrderNotFound,
)
from shopfloor.model.lots import Action, LotStatus, check_action, qty_text, status_after, to_milli
from shopfloor.model.work_orders import Status as WoStatus
from shopfloor.store.locks import lock_name
from shopfloor.store.schema import (
    bom_lines,
    customers,
    items,
    locations,
    lot_links,
    lot_movements,
    lots,
    order_holds,
    suppliers,
    work_orders,
)

KIND_PREFIX = {"raw": "R", "component": "C", "wip": "W", "finished": "F", "consumable": "M"}


@dataclass(frozen=True)
class Lot:
    id: int
    code: str
    item: str
    item_name: str
    unit: str
    qty_milli: int
    status: LotStatus
    location: str | None
    supplier: str | None
    supplier_lot: str | None
    certificate: dict[str, Any] | None
    work_order: str | None
    machine: str | None
    created_at: datetime

    @property
    def qty(self) -> str:
        return qty_text(self.qty_milli)

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "item": self.item,
            "item_name": self.item_name,
            "unit": self.unit,
            "qty": self.qty,
            "status": self.status.value,
            "location": self.location,
            "supplier": self.supplier,
            "supplier_lot": self.supplier_lot,
            "certificate": self.certificate or {},
            "work_order": self.work_order,
            "machine": self.machine,
            "created_at": self.created_at.isoformat(),
        }


_LOT_COLUMNS = (lots, items.c.name.label("item_name"), items.c.unit.label("unit"))


def _lot(row: Any) -> Lot:
    return Lot(
        int(row.id),
        row.code,
        row.item,
        row.item_name,
        row.unit,
        int(row.qty_milli),
        LotStatus(row.status),
        row.location,
        row.supplier,
        row.supplier_lot,
        row.certificate,
        row.work_order,
        row.machine,
        row.created_at,
    )


def get(conn: Connection, code: str, lock: bool = False) -> Lot:
    query = select(*_LOT_COLUMNS).join(items, items.c.code == lots.c.item).where(lots.c.code == code)
    if lock:
        query = query.with_for_update(of=lots)
    row = conn.execute(query).first()
    if row is None:
        raise LotNotFound(lot=code)
    return _lot(row)


def by_id(conn: Connection, ids: Iterable[int]) -> dict[int, Lot]:
    ids = list(ids)
    out: dict[int, Lot] = {}
    for i in range(0, len(ids), 500):
        query = select(*_LOT_COLUMNS).join(items, items.c.code == lots.c.item).where(lots.c.id.in_(ids[i : i + 500]))
        out.update((int(r.id), _lot(r)) for r in conn.execute(query))
    return out


def search(
    conn: Connection,
    item: str | None = None,
    status: str | None = None,
    location: str | None = None,
    text: str | None = None,
    limit: int = 200,
) -> list[Lot]:
    """Lots, newest first, filtered by item, status, location, or a part of the lot or supplier lot number."""
    query = select(*_LOT_COLUMNS).join(items, items.c.code == lots.c.item)
    if item:
        query = query.where(lots.c.item == item)
    if status:
        query = query.where(lots.c.status == status)
    if location:
        query = query.where(lots.c.location == location)
    if text:
        like = f"%{text}%"
        query = query.where(lots.c.code.ilike(like) | lots.c.supplier_lot.ilike(like))
    return [_lot(r) for r in conn.execute(query.order_by(lots.c.id.desc()).limit(limit))]


def inventory(conn: Connection, by: str = "location") -> list[dict[str, Any]]:
    """Stock on hand (active and held lots) per location and item, or per item."""
    cols = [lots.c.item, items.c.unit] if by == "item" else [lots.c.location, lots.c.item, items.c.unit]
    rows = conn.execute(
        select(*cols, lots.c.status, func.count(), func.sum(lots.c.qty_milli))
        .join(items, items.c.code == lots.c.item)
        .where(lots.c.status.in_([LotStatus.ACTIVE.value, LotStatus.HOLD.value]))
        .group_by(*cols, lots.c.status)
        .order_by(*cols[:-1])
    ).all()
    out: dict[tuple, dict[str, Any]] = {}
    for row in rows:
        key = tuple(row[: len(cols)])
        entry = out.setdefault(
            key,
            {**({} if by == "item" else {"location": row.location}), "item": row.item, "unit": row.unit}
            | {"lots": 0, "on_hand_milli": 0, "on_hold_milli": 0},
        )
        entry["lots"] += int(row[-2])
        entry["on_hold_milli" if row.status == LotStatus.HOLD.value else "on_hand_milli"] += int(row[-1])
    for entry in out.values():
        entry["on_hand"] = qty_text(entry.pop("on_hand_milli"))
        entry["on_hold"] = qty_text(entry.pop("on_hold_milli"))
    return list(out.values())


def movements(conn: Connection, code: str) -> list[dict[str, Any]]:
    lot = get(conn, code)
    mv = lot_movements.c
    rows = conn.execute(select(lot_movements).where(mv.lot_id == lot.id).order_by(mv.id)).all()
    return [
        {
            "ts": r.ts.isoformat(),
            "kind": r.kind,
            "qty": qty_text(r.qty_milli) if r.qty_milli >= 0 else "-" + qty_text(-r.qty_milli),
            "balance": qty_text(r.balance_milli),
            "location": r.location,
            "work_order": r.work_order,
            "machine": r.machine,
            "actor": r.actor,
            "ref": r.ref,
            "note": r.note,
        }
        for r in rows
    ]


# -- helpers ------------------------------------------------------------------------------------------------
def _now(at: datetime | None) -> datetime:
    return at or datetime.now(timezone.utc)


def _replayed(conn: Connection, key: str | None, action: Action) -> list[Lot] | None:
    """The lots a request with this ``key`` already produced, or None when the key is new."""
    if not key:
        return None
    lock_name(conn, "lot_key", key)
    mv = lot_movements.c
    rows = conn.execute(
        select(mv.lot_id, mv.kind).where((mv.key == key) | mv.key.like(f"{key}/%")).order_by(mv.id)
    ).all()
    if not rows:
        return None
    if rows[0].kind != action.value:
        raise RequestKeyReused(key=key, used_for=rows[0].kind, action=action.value)
    found = by_id(conn, [r.lot_id for r in rows])
    return [found[int(r.lot_id)] for r in rows]


def _move(
    conn: Connection,
    lot: Lot,
    action: Action,
    delta: int,
    actor: str,
    ts: datetime,
    key: str | None,
    status: LotStatus | None = None,
    location: str | None = None,
    **fields: Any,
) -> Lot:
    balance = lot.qty_milli + delta
    if balance < 0:
        raise LotShort(lot=lot.code, qty=lot.qty, unit=lot.unit, wanted=qty_text(-delta))
    new_status = status or status_after(balance, action, lot.status)
    new_location = location if location is not None else lot.location
    conn.execute(
        update(lots)
        .where(lots.c.id == lot.id)
        .values(qty_milli=balance, status=new_status.value, location=new_location)
    )
    conn.execute(
        insert(lot_movements).values(
            lot_id=lot.id,
            ts=ts,
            kind=action.value,
            qty_milli=delta,
            balance_milli=balance,
            location=new_location,
            actor=actor,
            key=key,
            **fields,
        )
    )
    return Lot(**{**lot.__dict__, "qty_milli": balance, "status": new_status, "location": new_location})


def _check_location(conn: Connection, code: str | None) -> None:
    if code is not None and conn.execute(select(locations.c.code).where(locations.c.code == code)).first() is None:
        raise LocationUnknown(location=code)


def _check_supplier(conn: Connection, code: str | None) -> None:
    if code is not None and conn.execute(select(suppliers.c.code).where(suppliers.c.code == code)).first() is None:
        raise SupplierUnknown(supplier=code)


def _item(conn: Connection, code: str) -> Any:
    row = conn.execute(select(items).where(items.c.code == code)).first()
    if row is None:
        raise ItemUnknown(item=code)
    return row


def _new_code(conn: Connection, kind: str, ts: datetime) -> str:
    prefix = f"{KIND_PREFIX.get(kind, 'L')}{ts:%y%m%d}-"
    lock_name(conn, "lot_code", prefix)
    taken = conn.execute(select(func.count()).where(lots.c.code.like(f"{prefix}%"))).scalar_one()
    n = int(taken) + 1
    while conn.execute(select(lots.c.id).where(lots.c.code == f"{prefix}{n:04d}")).first():
        n += 1
    return f"{prefix}{n:04d}"


def _create(
    conn: Connection,
    item_row: Any,
    qty_milli: int,
    action: Action,
    actor: str,
    ts: datetime,
    key: str | None,
    code: str | None = None,
    **fields: Any,
) -> Lot:
    code = (code or "").strip() or _new_code(conn, item_row.kind, ts)
    if len(code) > 64:
        raise LotCodeTooLong(start=code[:20])
    lock_name(conn, "lot_code", code)
    if conn.execute(select(lots.c.id).where(lots.c.code == code)).first():
        raise LotExists(lot=code)
    location = fields.pop("location", None)
    supplier = fields.pop("supplier", None)
    supplier_lot = fields.pop("supplier_lot", None)
    certificate = fields.pop("certificate", None)
    work_order = fields.get("work_order")
    machine = fields.get("machine")
    lot_id = conn.execute(
        insert(lots).values(
            code=code,
            item=item_row.code,
            qty_milli=qty_milli,
            status=LotStatus.ACTIVE.value,
            location=location,
            supplier=supplier,
            supplier_lot=supplier_lot,
            certificate=certificate,
            work_order=work_order,
            machine=machine,
            created_at=ts,
        )
    ).inserted_primary_key[0]
    conn.execute(
        insert(lot_movements).values(
            lot_id=lot_id,
            ts=ts,
            kind=action.value,
            qty_milli=qty_milli,
            balance_milli=qty_milli,
            location=location,
            actor=actor,
            key=key,
            **fields,
        )
    )
    return get(conn, code)


def _link(conn: Connection, parent: Lot, child: Lot, kind: Action, qty_milli: int, actor: str, ts: datetime, **kw):
    conn.execute(
        insert(lot_links).values(
            parent_id=parent.id, child_id=child.id, kind=kind.value, qty_milli=qty_milli, ts=ts, actor=actor, **kw
        )
    )


# -- actions ------------------------------------------------------------------------------------------------
def receive(
    conn: Connection,
    item: str,
    qty: Any,
    actor: str,
    *,
    code: str | None = None,
    location: str | None = None,
    supplier: str | None = None,
    supplier_lot: str | None = None,
    certificate: dict[str, Any] | None = None,
    key: str | None = None,
    at: datetime | None = None,
) -> Lot:
    """A raw-material (or bought-in) lot arrives: supplier, the supplier's lot number, certificate fields."""
    done = _replayed(conn, key, Action.RECEIVE)
    if done:
        return done[0]
    row = _item(conn, item)
    milli = to_milli(qty)
    _check_location(conn, location)
    _check_supplier(conn, supplier)
    if certificate is not None and (
        not isinstance(certificate, dict) or not all(isinstance(k, str) and k for k in certificate)
    ):
        raise CertificateInvalid()
    return _create(
        conn,
        row,
        milli,
        Action.RECEIVE,
        actor,
        _now(at),
        key,
        code,
        location=location,
        supplier=supplier,
        supplier_lot=(supplier_lot or "").strip() or None,
        certificate=certificate or None,
        ref=supplier,
    )


def _order(conn: Connection, code: str) -> Any:
    row = conn.execute(select(work_orders).where(work_orders.c.code == code)).first()
    if row is None:
        raise WorkOrderNotFound(work_order=code)
    return row


def issue(
    conn: Connection,
    code: str,
    qty: Any,
    work_order: str,
    actor: str,
    *,
    machine: str | None = None,
    key: str | None = None,
    at: datetime | None = None,
) -> Lot:
    """Material of a lot goes into a work order (scanned at the machine); the order must be released or running,
    and when the order's product has a BOM the lot's item must be one of its components."""
    done = _replayed(conn, key, Action.ISSUE)
    if done:
        return done[0]
    lot = get(conn, code, lock=True)
    check_action(code, lot.status, Action.ISSUE)
    order = _order(conn, work_order)
    if order.status not in (WoStatus.RELEASED.value, WoStatus.IN_PROGRESS.value):
        raise IssueOrderNotRunning(work_order=work_order, status=order.status)
    bom = {r.component for r in conn.execute(select(bom_lines.c.component).where(bom_lines.c.parent == order.product))}
    if bom and lot.item not in bom:
        raise NotInBom(item=lot.item, product=order.product, components=sorted(bom))
    milli = lot.qty_milli if qty is None else to_milli(qty)
    return _move(
        conn, lot, Action.ISSUE, -milli, actor, _now(at), key, work_order=work_order, machine=machine or order.machine
    )


def issued_to(conn: Connection, work_order: str) -> list[tuple[Lot, int]]:
    """The lots issued to a work order and the quantity of each (net of nothing: issues are not undone)."""
    mv = lot_movements.c
    rows = conn.execute(
        select(mv.lot_id, func.sum(mv.qty_milli))
        .where(mv.work_order == work_order, mv.kind == Action.ISSUE.value)
        .group_by(mv.lot_id)
        .order_by(func.min(mv.id))
    ).all()
    found = by_id(conn, [r[0] for r in rows])
    return [(found[int(r[0])], -int(r[1])) for r in rows]


def produce(
    conn: Connection,
    work_order: str,
    qty: Any,
    actor: str,
    *,
    code: str | None = None,
    item: str | None = None,
    location: str | None = None,
    machine: str | None = None,
    key: str | None = None,
    at: datetime | None = None,
) -> Lot:
    """An output (WIP or finished) lot of a work order, linked to every lot issued to the order so far."""
    done = _replayed(conn, key, Action.PRODUCE)
    if done:
        return done[0]
    order = _order(conn, work_order)
    if order.status not in (WoStatus.IN_PROGRESS.value, WoStatus.COMPLETED.value):
        raise OutputOrderNotRunning(work_order=work_order, status=order.status)
    row = _item(conn, item or order.product)
    _check_location(conn, location)
    ts = _now(at)
    where = machine or order.machine
    lot = _create(
        conn,
        row,
        to_milli(qty),
        Action.PRODUCE,
        actor,
        ts,
        key,
        code,
        location=location,
        work_order=work_order,
        machine=where,
    )
    for parent, milli in issued_to(conn, work_order):
        _link(conn, parent, lot, Action.PRODUCE, milli, actor, ts, work_order=work_order, machine=where)
    held = order_holds_of(conn, work_order)
    if held:
        # the order consumed a lot under recall: its output is suspect from the moment it exists
        reason = "; ".join(f"recall of {h['lot']}: {h['reason']}" for h in held)
        lot = hold(conn, lot.code, reason, "system:recall", at=ts)
    return lot


def consuming_orders(conn: Connection, lot_codes: list[str]) -> list[dict[str, Any]]:
    """Every work order that any of ``lot_codes`` was issued to, whatever its status and whether it made output
    yet: code, product, machine, status and the lots issued with their quantity."""
    if not lot_codes:
        return []
    mv, lt, wo = lot_movements.c, lots.c, work_orders.c
    rows = conn.execute(
        select(mv.work_order, lt.code, func.sum(mv.qty_milli).label("milli"), wo.product, wo.machine, wo.status)
        .join(lots, lt.id == mv.lot_id)
        .join(work_orders, wo.code == mv.work_order)
        .where(mv.kind == Action.ISSUE.value, lt.code.in_(lot_codes))
        .group_by(mv.work_order, lt.code, wo.product, wo.machine, wo.status)
        .order_by(mv.work_order, lt.code)
    ).all()
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        order = out.setdefault(r.work_order, {"code": r.work_order, "product": r.product, "machine": r.machine,
                                               "status": r.status, "lots_issued": []})  # fmt: skip
        order["lots_issued"].append(f"{r.code} ({qty_text(-int(r.milli))})")
    return list(out.values())


def hold_order_output(conn: Connection, work_order: str, lot: str, reason: str, actor: str, at=None) -> bool:
    """Hold every future output lot of ``work_order`` (it consumed the suspect ``lot``); False if it was already."""
    lock_name(conn, "order_hold", f"{work_order}/{lot}")
    oh = order_holds.c
    if conn.execute(select(oh.id).where(oh.work_order == work_order, oh.lot == lot)).first():
        return False
    conn.execute(insert(order_holds).values(work_order=work_order, lot=lot, reason=reason, actor=actor, ts=_now(at)))
    return True


def order_holds_of(conn: Connection, work_order: str) -> list[dict[str, Any]]:
    oh = order_holds.c
    rows = conn.execute(select(oh.lot, oh.reason).where(oh.work_order == work_order).order_by(oh.id)).all()
    return [{"lot": r.lot, "reason": r.reason} for r in rows]


def split(
    conn: Connection,
    code: str,
    quantities: list[Any],
    actor: str,
    *,
    codes: list[str] | None = None,
    location: str | None = None,
    key: str | None = None,
    at: datetime | None = None,
) -> list[Lot]:
    """New lots of the given quantities taken from one lot; they keep its item, supplier and certificate.
    Returns the parent (what is left) and the new lots."""
    done = _replayed(conn, key, Action.SPLIT)
    if done:
        return done
    parent = get(conn, code, lock=True)
    check_action(code, parent.status, Action.SPLIT)
    if not quantities:
        raise SplitNeedsQuantity()
    millis = [to_milli(q, f"quantity {i + 1}") for i, q in enumerate(quantities)]
    if sum(millis) > parent.qty_milli:
        raise LotSplitTooMuch(lot=code, qty=parent.qty, unit=parent.unit, wanted=qty_text(sum(millis)))
    if codes is not None and len(codes) != len(millis):
        raise SplitCodesCount(quantities=len(millis), codes=len(codes))
    _check_location(conn, location)
    ts = _now(at)
    row = _item(conn, parent.item)
    parent = _move(conn, parent, Action.SPLIT, -sum(millis), actor, ts, key, ref=f"{len(millis)} lots")
    out = [parent]
    for i, milli in enumerate(millis):
        child = _create(
            conn,
            row,
            milli,
            Action.SPLIT,
            actor,
            ts,
            f"{key}/{i + 1}" if key else None,
            codes[i] if codes else f"{code}-{_next_suffix(conn, code)}",
            location=location or parent.location,
            supplier=parent.supplier,
            supplier_lot=parent.supplier_lot,
            certificate=parent.certificate,
            ref=code,
        )
        _link(conn, parent, child, Action.SPLIT, milli, actor, ts)
        out.append(child)
    return out


def _next_suffix(conn: Connection, code: str) -> int:
    n = 1
    while conn.execute(select(lots.c.id).where(lots.c.code == f"{code}-{n}")).first():
        n += 1
    return n


def merge(
    conn: Connection,
    codes: list[str],
    actor: str,
    *,
    code: str | None = None,
    location: str | None = None,
    key: str | None = None,
    at: datetime | None = None,
) -> Lot:
    """One new lot holding everything of several active lots of the same item; the merged lots are consumed."""
    done = _replayed(conn, key, Action.MERGE)
    if done:
        return done[-1]
    if len(set(codes)) < 2 or len(set(codes)) != len(codes):
        raise MergeNeedsTwo()
    parents = [get(conn, c, lock=True) for c in sorted(codes)]
    for p in parents:
        check_action(p.code, p.status, Action.MERGE)
    kinds = {p.item for p in parents}
    if len(kinds) > 1:
        raise MergeItemsDiffer(items=sorted(kinds))
    _check_location(conn, location)
    ts = _now(at)
    total = sum(p.qty_milli for p in parents)
    row = _item(conn, parents[0].item)
    suppliers_ = {p.supplier for p in parents}
    merged_into = code or _new_code(conn, row.kind, ts)
    moved = [
        _move(conn, p, Action.MERGE, -p.qty_milli, actor, ts, f"{key}/{i + 1}" if key else None, ref=merged_into)
        for i, p in enumerate(parents)
    ]
    child = _create(
        conn,
        row,
        total,
        Action.MERGE,
        actor,
        ts,
        f"{key}/0" if key else None,
        merged_into,
        location=location or parents[0].location,
        supplier=suppliers_.pop() if len(suppliers_) == 1 else None,
        ref=", ".join(p.code for p in parents),
    )
    for p, before in zip(moved, parents):
        _link(conn, p, child, Action.MERGE, before.qty_milli, actor, ts)
    return child


def hold(conn: Connection, code: str, reason: str, actor: str, *, key: str | None = None, at=None) -> Lot:
    """Block a lot (quality, suspected defect, recall); the reason is required."""
    done = _replayed(conn, key, Action.HOLD)
    if done:
        return done[0]
    if not (reason or "").strip():
        raise HoldNeedsReason()
    lot = get(conn, code, lock=True)
    check_action(code, lot.status, Action.HOLD)
    return _move(conn, lot, Action.HOLD, 0, actor, _now(at), key, status=LotStatus.HOLD, note=reason.strip())


def release(conn: Connection, code: str, reason: str, actor: str, *, key: str | None = None, at=None) -> Lot:
    done = _replayed(conn, key, Action.RELEASE)
    if done:
        return done[0]
    if not (reason or "").strip():
        raise ReleaseNeedsReason()
    lot = get(conn, code, lock=True)
    check_action(code, lot.status, Action.RELEASE)
    return _move(conn, lot, Action.RELEASE, 0, actor, _now(at), key, status=LotStatus.ACTIVE, note=reason.strip())


def move(conn: Connection, code: str, location: str, actor: str, *, key: str | None = None, at=None) -> Lot:
    done = _replayed(conn, key, Action.MOVE)
    if done:
        return done[0]
    lot = get(conn, code, lock=True)
    check_action(code, lot.status, Action.MOVE)
    _check_location(conn, location)
    if location == lot.location:
        raise LotAlreadyThere(lot=code, location=location)
    return _move(conn, lot, Action.MOVE, 0, actor, _now(at), key, location=location, ref=lot.location)


def ship(
    conn: Connection,
    code: str,
    qty: Any,
    customer: str,
    actor: str,
    *,
    shipment: str | None = None,
    key: str | None = None,
    at: datetime | None = None,
) -> Lot:
    """Finished goods leave for a customer; ``shipment`` is the delivery note number."""
    done = _replayed(conn, key, Action.SHIP)
    if done:
        return done[0]
    lot = get(conn, code, lock=True)
    check_action(code, lot.status, Action.SHIP)
    if conn.execute(select(customers.c.code).where(customers.c.code == customer)).first() is None:
        raise CustomerUnknown(customer=customer)
    milli = lot.qty_milli if qty is None else to_milli(qty)
    return _move(conn, lot, Action.SHIP, -milli, actor, _now(at), key, ref=customer, note=shipment)


def scrap(
    conn: Connection,
    code: str,
    qty: Any,
    actor: str,
    *,
    defect: str | None = None,
    key: str | None = None,
    at: datetime | None = None,
) -> Lot:
    done = _replayed(conn, key, Action.SCRAP)
    if done:
        return done[0]
    lot = get(conn, code, lock=True)
    check_action(code, lot.status, Action.SCRAP)
    milli = lot.qty_milli if qty is None else to_milli(qty)
    return _move(conn, lot, Action.SCRAP, -milli, actor, _now(at), key, ref=defect)


def return_to_supplier(
    conn: Connection,
    code: str,
    qty: Any,
    actor: str,
    *,
    note: str | None = None,
    key: str | None = None,
    at: datetime | None = None,
) -> Lot:
    """Material goes back to the lot's supplier (a rejected delivery); the reference names the supplier."""
    done = _replayed(conn, key, Action.RETURN)
    if done:
        return done[0]
    lot = get(conn, code, lock=True)
    check_action(code, lot.status, Action.RETURN)
    if lot.supplier is None:
        raise LotNoSupplier(lot=code)
    milli = lot.qty_milli if qty is None else to_milli(qty)
    return _move(conn, lot, Action.RETURN, -milli, actor, _now(at), key, ref=lot.supplier, note=note)


def adjust(
    conn: Connection, code: str, counted: Any, reason: str, actor: str, *, key: str | None = None, at=None
) -> Lot:
    """A physical count: the lot's quantity becomes ``counted``; the difference is recorded with the reason."""
    done = _replayed(conn, key, Action.ADJUST)
    if done:
        return done[0]
    if not (reason or "").strip():
        raise CountNeedsReason()
    lot = get(conn, code, lock=True)
    check_action(code, lot.status, Action.ADJUST)
    milli = to_milli(counted, "counted quantity", allow_zero=True)
    return _move(conn, lot, Action.ADJUST, milli - lot.qty_milli, actor, _now(at), key, note=reason.strip())
