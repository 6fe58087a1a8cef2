"""Lots: receive, issue to a work order, report an order's output, split, merge, hold and release, move, ship,
scrap and count; and holding every affected lot of a recall.

Every change may carry an idempotency ``key``: the same request sent again (a double tap, a retry after a lost
answer) returns the first result and changes nothing.  Each returns the changed lot as a dict (split: the lot
and its new lots).  Live events: ``("lot", code)`` of every lot changed or made.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine

from shopfloor.actions.core import change
from shopfloor.actions.recall import recall_report
from shopfloor.model.lots import LotStatus
from shopfloor.store import lots as store


def _lot_change(
    engine: Engine, actor: str, action: str, target: str, detail: dict[str, Any], do: Callable[[Connection], Any]
) -> Any:
    with change(engine, actor) as c:
        result = do(c.conn)
        changed = result if isinstance(result, list) else [result]
        c.audit(f"lot.{action}", target, {k: v for k, v in detail.items() if v is not None})
        c.publish("lot", *(lot.code for lot in changed))
    return [lot.to_dict() for lot in result] if isinstance(result, list) else result.to_dict()


def receive_lot(
    engine: Engine,
    actor: str,
    *,
    item: str,
    qty: Any,
    code: str | None = None,
    location: str | None = None,
    supplier: str | None = None,
    supplier_lot: str | None = None,
    certificate: dict[str, Any] | None = None,
    key: str | None = None,
) -> dict[str, Any]:
    """A raw-material (or bought-in) lot arrives, with its supplier, the supplier's lot number and certificate."""
    detail = {"item": item, "qty": str(qty), "code": code, "location": location, "supplier": supplier,
              "supplier_lot": supplier_lot, "certificate": certificate}  # fmt: skip
    return _lot_change(
        engine, actor, "receive", f"item:{item}", detail,
        lambda conn: store.receive(conn, item, qty, actor, code=code, location=location, supplier=supplier,
                                   supplier_lot=supplier_lot, certificate=certificate, key=key),
    )  # fmt: skip


def issue_lot(
    engine: Engine,
    actor: str,
    code: str,
    *,
    work_order: str,
    qty: Any = None,
    machine: str | None = None,
    key: str | None = None,
) -> dict[str, Any]:
    """Material of a lot goes into a released or running work order (all that is left when ``qty`` is None)."""
    detail = {"work_order": work_order, "qty": None if qty is None else str(qty), "machine": machine}
    return _lot_change(
        engine, actor, "issue", f"lot:{code}", detail,
        lambda conn: store.issue(conn, code, qty, work_order, actor, machine=machine, key=key),
    )  # fmt: skip


def report_output(
    engine: Engine,
    actor: str,
    work_order: str,
    *,
    qty: Any,
    code: str | None = None,
    item: str | None = None,
    location: str | None = None,
    machine: str | None = None,
    key: str | None = None,
) -> dict[str, Any]:
    """An output lot of a work order, linked to every lot issued to the order so far."""
    detail = {"qty": str(qty), "code": code, "item": item, "location": location, "machine": machine}
    return _lot_change(
        engine, actor, "produce", f"work_order:{work_order}", detail,
        lambda conn: store.produce(conn, work_order, qty, actor, code=code, item=item, location=location,
                                   machine=machine, key=key),
    )  # fmt: skip


def split_lot(
    engine: Engine,
    actor: str,
    code: str,
    *,
    quantities: list[Any],
    codes: list[str] | None = None,
    location: str | None = None,
    key: str | None = None,
) -> list[dict[str, Any]]:
    """New lots of the given quantities taken from one lot; returns the lot (what is left) and the new lots."""
    detail = {"quantities": [str(q) for q in quantities], "codes": codes, "location": location}
    return _lot_change(
        engine, actor, "split", f"lot:{code}", detail,
        lambda conn: store.split(conn, code, quantities, actor, codes=codes, location=location, key=key),
    )  # fmt: skip


def merge_lots(
    engine: Engine,
    actor: str,
    *,
    lots: list[str],
    code: str | None = None,
    location: str | None = None,
    key: str | None = None,
) -> dict[str, Any]:
    """One new lot holding everything of several active lots of one item; the merged lots are consumed."""
    with change(engine, actor) as c:
        merged = store.merge(c.conn, lots, actor, code=code, location=location, key=key)
        c.audit("lot.merge", "lots:" + ",".join(lots), {"lots": lots, "code": merged.code, "location": location})
        c.publish("lot", merged.code, *lots)
    return merged.to_dict()


def hold_lot(engine: Engine, actor: str, code: str, *, reason: str, key: str | None = None) -> dict[str, Any]:
    """Block a lot (quality, suspected defect, recall); the reason is required."""
    return _lot_change(
        engine, actor, "hold", f"lot:{code}", {"reason": reason},
        lambda conn: store.hold(conn, code, reason, actor, key=key),
    )  # fmt: skip


def release_lot(engine: Engine, actor: str, code: str, *, reason: str, key: str | None = None) -> dict[str, Any]:
    """Release a hold; the reason (the inspection that cleared it) is required."""
    return _lot_change(
        engine, actor, "release", f"lot:{code}", {"reason": reason},
        lambda conn: store.release(conn, code, reason, actor, key=key),
    )  # fmt: skip


def move_lot(engine: Engine, actor: str, code: str, *, location: str, key: str | None = None) -> dict[str, Any]:
    return _lot_change(
        engine, actor, "move", f"lot:{code}", {"location": location},
        lambda conn: store.move(conn, code, location, actor, key=key),
    )  # fmt: skip


def ship_lot(
    engine: Engine,
    actor: str,
    code: str,
    *,
    customer: str,
    qty: Any = None,
    shipment: str | None = None,
    key: str | None = None,
) -> dict[str, Any]:
    """Finished goods leave for a customer (all that is left when ``qty`` is None); ``shipment``: the delivery
    note number."""
    detail = {"customer": customer, "qty": None if qty is None else str(qty), "shipment": shipment}
    return _lot_change(
        engine, actor, "ship", f"lot:{code}", detail,
        lambda conn: store.ship(conn, code, qty, customer, actor, shipment=shipment, key=key),
    )  # fmt: skip


def scrap_lot(
    engine: Engine, actor: str, code: str, *, qty: Any = None, defect: str | None = None, key: str | None = None
) -> dict[str, Any]:
    detail = {"qty": None if qty is None else str(qty), "defect": defect}
    return _lot_change(
        engine, actor, "scrap", f"lot:{code}", detail,
        lambda conn: store.scrap(conn, code, qty, actor, defect=defect, key=key),
    )  # fmt: skip


def count_lot(
    engine: Engine, actor: str, code: str, *, counted: Any, reason: str, key: str | None = None
) -> dict[str, Any]:
    """A physical count: the lot's quantity becomes ``counted``; the difference is kept with the reason."""
    return _lot_change(
        engine, actor, "count", f"lot:{code}", {"counted": str(counted), "reason": reason},
        lambda conn: store.adjust(conn, code, counted, reason, actor, key=key),
    )  # fmt: skip


def hold_recalled_lots(engine: Engine, actor: str, code: str, *, reason: str) -> dict[str, Any]:
    """Put every lot affected by a recall of ``code`` that is still active on hold, and every order that consumed
    one of them (running ones too, with no output yet) under an output hold: their next output lots are created on
    hold.  Returns the recall report after it, ``held`` (the lots put on hold) and ``orders_held``.  Live events:
    the lots, the orders, and the machines of the orders in progress (their terminals show the hold)."""
    with change(engine, actor) as c:
        report = recall_report(c.conn, code)
        held = [node["code"] for node in report["affected"] if node["status"] == LotStatus.ACTIVE.value]
        for lot in held:
            store.hold(c.conn, lot, reason, actor)
        orders_held = [
            o["code"]
            for o in report["consuming_orders"]
            if o["status"] not in ("closed", "cancelled") and store.hold_order_output(c.conn, o["code"], code, reason,
                                                                                       actor)
        ]  # fmt: skip
        machines = report["summary"]["machines_in_progress"]
        c.audit("lot.recall_hold", f"lot:{code}", {"held": held, "orders_held": orders_held}, reason)
        c.publish("lot", *held)
        c.publish("work_order", *orders_held)
        c.publish("machine", *machines)
        return {**recall_report(c.conn, code), "held": held, "orders_held": orders_held}
