"""Genealogy trace: every lot upstream (backward: what went into this lot, down to the suppliers' lots) or
downstream (forward: every lot made from it, and every shipment of those) of a lot, through any number of
levels, splits and merges.

The store walks ``lot_links`` with one recursive query (``WITH RECURSIVE``, the same SQL on SQLite and
PostgreSQL); ``UNION`` keeps each lot once, so a lot reached along several paths (a merge, a split whose parts
meet again) is visited once.  Then the links among the lots found, the lots themselves, and, for the work
orders on the path, who worked on them and the process values measured on their machines while they ran.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, func, select, text

from shopfloor.model.lots import Action, qty_text
from shopfloor.store import inspections as insp
from shopfloor.store import lots as lot_store
from shopfloor.store import ncr as ncr_store
from shopfloor.store.schema import (
    customers,
    lot_links,
    lot_movements,
    machines,
    measurements,
    suppliers,
    work_order_events,
    work_orders,
)

BACKWARD, FORWARD = "backward", "forward"

_SQL = {
    BACKWARD: """
        WITH RECURSIVE reached(id) AS (
            SELECT CAST(:root AS BIGINT)
            UNION
            SELECT l.parent_id FROM lot_links l JOIN reached r ON l.child_id = r.id
        )
        SELECT id FROM reached""",
    FORWARD: """
        WITH RECURSIVE reached(id) AS (
            SELECT CAST(:root AS BIGINT)
            UNION
            SELECT l.child_id FROM lot_links l JOIN reached r ON l.parent_id = r.id
        )
        SELECT id FROM reached""",
}


@dataclass(frozen=True)
class Trace:
    root: str
    direction: str
    nodes: list[dict[str, Any]]
    edges: list[dict[str, Any]]
    orders: list[dict[str, Any]]
    inspections: list[dict[str, Any]] = field(default_factory=list)
    ncrs: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "direction": self.direction,
            "nodes": self.nodes,
            "edges": self.edges,
            "orders": self.orders,
            "inspections": self.inspections,
            "ncrs": self.ncrs,
        }

    def lots(self) -> list[dict[str, Any]]:
        return [n for n in self.nodes if n["type"] == "lot"]

    def shipments(self) -> list[dict[str, Any]]:
        return [n for n in self.nodes if n["type"] == "shipment"]


def reached_ids(conn: Connection, root_id: int, direction: str) -> list[int]:
    """Ids of the lots reachable from ``root_id`` (itself included) in ``direction``."""
    if direction not in _SQL:
        raise ValueError(f"direction must be {BACKWARD} or {FORWARD}, not {direction!r}")
    return [int(r[0]) for r in conn.execute(text(_SQL[direction]), {"root": root_id})]


def _chunks(ids: list[int], size: int = 500):
    for i in range(0, len(ids), size):
        yield ids[i : i + size]


def trace(conn: Connection, code: str, direction: str, with_context: bool = True) -> Trace:
    """The genealogy graph of lot ``code`` in ``direction``: nodes (lots, and for forward traces shipments),
    edges (parent -> child with kind, quantity, time, order, machine, who) and the work orders on the path."""
    root = lot_store.get(conn, code)
    ids = reached_ids(conn, root.id, direction)
    found = lot_store.by_id(conn, ids)
    ll = lot_links.c
    link_rows = []
    end = ll.child_id if direction == BACKWARD else ll.parent_id
    for chunk in _chunks(ids):
        link_rows += conn.execute(select(lot_links).where(end.in_(chunk))).all()
    edges = [
        {
            "from": found[int(r.parent_id)].code,
            "to": found[int(r.child_id)].code,
            "kind": r.kind,
            "qty": qty_text(r.qty_milli),
            "ts": r.ts.isoformat(),
            "work_order": r.work_order,
            "machine": r.machine,
            "actor": r.actor,
        }
        for r in link_rows
        if int(r.parent_id) in found and int(r.child_id) in found
    ]
    depth = _depths(root.id, direction, link_rows)
    supplier_names = dict(conn.execute(select(suppliers.c.code, suppliers.c.name)).all())
    nodes: list[dict[str, Any]] = []
    for lot_id in sorted(found, key=lambda i: (depth.get(i, 0), found[i].code)):
        lot = found[lot_id]
        node = {"type": "lot", "id": lot.code, "depth": depth.get(lot_id, 0), **lot.to_dict()}
        if lot.supplier:
            node["supplier_name"] = supplier_names.get(lot.supplier)
        nodes.append(node)
    if direction == FORWARD:
        _add_shipments(conn, found, nodes, edges)
    order_codes = {e["work_order"] for e in edges} | {lot.work_order for lot in found.values()}
    orders = _orders(conn, order_codes, with_context)
    inspections: list[dict[str, Any]] = []
    ncr_list: list[dict[str, Any]] = []
    if with_context:
        lot_codes = [lot.code for lot in found.values()]
        inspections = insp.samples_of(conn, lots_=lot_codes, orders=sorted(c for c in order_codes if c))
        ncr_list = ncr_store.of_lots(conn, lot_codes)
    return Trace(root.code, direction, nodes, edges, orders, inspections, ncr_list)


def _depths(root_id: int, direction: str, link_rows: list[Any]) -> dict[int, int]:
    """Levels from the root (shortest path), by a breadth-first walk over the links among the lots found."""
    step: dict[int, list[int]] = {}
    for r in link_rows:
        a, b = (int(r.child_id), int(r.parent_id)) if direction == BACKWARD else (int(r.parent_id), int(r.child_id))
        step.setdefault(a, []).append(b)
    depth = {root_id: 0}
    frontier = [root_id]
    while frontier:
        nxt: list[int] = []
        for a in frontier:
            for b in step.get(a, ()):
                if b not in depth:
                    depth[b] = depth[a] + 1
                    nxt.append(b)
        frontier = nxt
    return depth


def _add_shipments(conn: Connection, found: dict[int, Any], nodes: list, edges: list) -> None:
    mv = lot_movements.c
    names = dict(conn.execute(select(customers.c.code, customers.c.name)).all())
    for chunk in _chunks(list(found)):
        rows = conn.execute(
            select(lot_movements).where(mv.lot_id.in_(chunk), mv.kind == Action.SHIP.value).order_by(mv.id)
        ).all()
        for r in rows:
            # one node per shipping movement: a delivery note may carry the same lot twice (two part shipments)
            ship_id = f"shipment:{r.note or '-'}:{found[int(r.lot_id)].code}:{r.id}"
            nodes.append(
                {
                    "type": "shipment",
                    "id": ship_id,
                    "shipment": r.note,
                    "customer": r.ref,
                    "customer_name": names.get(r.ref),
                    "lot": found[int(r.lot_id)].code,
                    "qty": qty_text(-r.qty_milli),
                    "unit": found[int(r.lot_id)].unit,
                    "ts": r.ts.isoformat(),
                    "actor": r.actor,
                }
            )
            edges.append(
                {
                    "from": found[int(r.lot_id)].code,
                    "to": ship_id,
                    "kind": "ship",
                    "qty": qty_text(-r.qty_milli),
                    "ts": r.ts.isoformat(),
                    "work_order": None,
                    "machine": None,
                    "actor": r.actor,
                }
            )


def _orders(conn: Connection, codes: set[str | None], with_context: bool) -> list[dict[str, Any]]:
    """Work orders on the path: product, machine, when it ran, who reported on it, process values on its machine
    while it was in progress (count, min, mean, max per value)."""
    codes = {c for c in codes if c}
    if not codes:
        return []
    wo, ev = work_orders.c, work_order_events.c
    out = []
    for row in conn.execute(select(work_orders).where(wo.code.in_(sorted(codes))).order_by(wo.code)):
        events = conn.execute(
            select(ev.ts, ev.to_status, ev.actor).where(ev.work_order_id == row.id).order_by(ev.ts, ev.id)
        ).all()
        started = next((e.ts for e in events if e.to_status == "in_progress"), None)
        ended = next((e.ts for e in events if started and e.ts >= started and e.to_status != "in_progress"), None)
        mv = lot_movements.c
        people = {e.actor for e in events} | {
            a for (a,) in conn.execute(select(mv.actor).where(mv.work_order == row.code).distinct())
        }
        entry = {
            "code": row.code,
            "product": row.product,
            "machine": row.machine,
            "status": row.status,
            "started": started.isoformat() if started else None,
            "ended": ended.isoformat() if ended else None,
            "people": sorted(people),
            "process_values": [],
        }
        if with_context and row.machine and started:
            entry["process_values"] = _process_values(conn, row.machine, started, ended)
        out.append(entry)
    return out


def _process_values(conn: Connection, machine: str, start: datetime, end: datetime | None) -> list[dict[str, Any]]:
    m = measurements.c
    mid = conn.execute(select(machines.c.id).where(machines.c.code == machine)).scalar()
    if mid is None:
        return []
    end = end or datetime.now(timezone.utc)
    rows = conn.execute(
        select(m.name, func.count(m.value), func.min(m.value), func.avg(m.value), func.max(m.value))
        .where(m.machine_id == mid, m.ts >= start, m.ts <= end, m.value.is_not(None))
        .group_by(m.name)
        .order_by(m.name)
    ).all()
    return [
        {"name": r[0], "count": int(r[1]), "min": r[2], "mean": float(r[3]) if r[3] is not None else None, "max": r[4]}
        for r in rows
    ]
