"""Work orders in the store: create, change status (each change recorded), dispatch lists, the order running
on a machine, progress from the counts made for it.

A change of status or assignment reads the order under a row lock (``FOR UPDATE`` on PostgreSQL; SQLite writers
take turns), so two requests on one order are decided one after the other.  At most one order is in progress on
a machine: a partial unique index (``uq_work_orders_running_machine``) holds that even when two orders start on
one machine at the same instant; the second start is refused with ``MachineBusy``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from shopfloor.errors import (
    MachineBusy,
    MachineUnknown,
    NothingToAssign,
    NothingToEdit,
    ProductUnknown,
    WorkOrderDueImplausible,
    WorkOrderExists,
    WorkOrderNeedsMachine,
    WorkOrderNotEditable,
    WorkOrderNotFound,
    WorkOrderPriority,
    WorkOrderProductFixed,
    WorkOrderQuantity,
    WorkOrderQuantityBelowGood,
    WorkOrderStarted,
    refuse,
)
from shopfloor.model.events import CountEvent, MachineEvent
from shopfloor.model.inputs import plausible_time
from shopfloor.model.plant import Plant
from shopfloor.model.work_orders import Status, check_transition
from shopfloor.store.locks import lock_name
from shopfloor.store.plant import machine_ids
from shopfloor.store.schema import items, machine_events, operations, work_order_events, work_orders


@dataclass(frozen=True)
class WorkOrder:
    code: str
    product: str
    quantity: int
    machine: str | None
    priority: int
    due: datetime | None
    status: Status
    operator: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "product": self.product,
            "quantity": self.quantity,
            "machine": self.machine,
            "operator": self.operator,
            "priority": self.priority,
            "due": self.due.isoformat() if self.due else None,
            "status": self.status.value,
        }


def _wo(row) -> WorkOrder:
    return WorkOrder(
        row.code,
        row.product,
        int(row.quantity),
        row.machine,
        int(row.priority),
        row.due,
        Status(row.status),
        row.operator,
    )


def create(
    conn: Connection,
    plant: Plant,
    code: str,
    product: str,
    quantity: int,
    actor: str,
    machine: str | None = None,
    priority: int = 0,
    due: datetime | None = None,
    operator: str | None = None,
) -> WorkOrder:
    problems = [
        p
        for p in (
            _quantity_problem(quantity),
            _product_problem(conn, plant, product),
            _machine_problem(plant, machine),
            priority_problem(priority),
            due_problem(due),
        )
        if p is not None
    ]
    lock_name(conn, "work_order", code)
    if conn.execute(select(work_orders.c.id).where(work_orders.c.code == code)).first():
        problems.append(WorkOrderExists(work_order=code))
    refuse(problems)
    now = datetime.now(timezone.utc)
    wid = conn.execute(
        insert(work_orders).values(
            code=code,
            product=product,
            quantity=quantity,
            machine=machine,
            priority=priority,
            due=due,
            operator=operator,
            status=Status.PLANNED.value,
            created_at=now,
        )
    ).inserted_primary_key[0]
    conn.execute(
        insert(work_order_events).values(
            work_order_id=wid, ts=now, from_status=None, to_status=Status.PLANNED.value, actor=actor, reason=None
        )
    )
    return get(conn, code)


def _quantity_problem(quantity: int) -> WorkOrderQuantity | None:
    return WorkOrderQuantity(quantity=quantity) if quantity <= 0 else None


def _product_problem(conn: Connection, plant: Plant, product: str) -> ProductUnknown | None:
    known = product in {p.code for p in plant.products}
    if known or conn.execute(select(items.c.code).where(items.c.code == product)).first():
        return None
    return ProductUnknown(product=product)


def _machine_problem(plant: Plant, machine: str | None) -> MachineUnknown | None:
    if machine is not None and machine not in {m.code for m in plant.machines}:
        return MachineUnknown(machine=machine)
    return None


PRIORITY = (-1000, 1000)


def priority_problem(priority: int | None) -> WorkOrderPriority | None:
    if priority is not None and not PRIORITY[0] <= priority <= PRIORITY[1]:
        return WorkOrderPriority(priority=priority)
    return None


def due_problem(due: datetime | None) -> WorkOrderDueImplausible | None:
    """A due date outside 1970..2999 (a typing slip such as 0202-05-01) is refused, as it would sort the order
    first or last of every list."""
    if due is not None and plausible_time(due) is None:
        return WorkOrderDueImplausible(due=due.isoformat())
    return None


def get(conn: Connection, code: str) -> WorkOrder:
    return _wo(_row(conn, code))


def _row(conn: Connection, code: str, lock: bool = False) -> Any:
    query = select(work_orders).where(work_orders.c.code == code)
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise WorkOrderNotFound(work_order=code)
    return row


def transition(
    conn: Connection,
    code: str,
    target: Status,
    actor: str,
    reason: str | None = None,
    machine: str | None = None,
    at: datetime | None = None,
) -> WorkOrder:
    """Change the status; ``at`` is when it happened (a terminal's tap time), by default now."""
    row = _row(conn, code, lock=True)
    current = Status(row.status)
    check_transition(code, current, target)
    values: dict[str, Any] = {"status": target.value}
    if target is Status.IN_PROGRESS:
        where = machine or row.machine
        if where is None:
            raise WorkOrderNeedsMachine(work_order=code)
        if where not in machine_ids(conn):
            raise MachineUnknown(machine=where)
        running = running_on(conn, where)
        if running is not None and running.code != code:
            raise MachineBusy(running=running.code, machine=where)
        values["machine"] = where
    conn.execute(update(work_orders).where(work_orders.c.id == row.id).values(**values))
    conn.execute(
        insert(work_order_events).values(
            work_order_id=row.id,
            ts=at or datetime.now(timezone.utc),
            from_status=current.value,
            to_status=target.value,
            actor=actor,
            reason=reason,
        )
    )
    return get(conn, code)


def running_on(conn: Connection, machine: str) -> WorkOrder | None:
    row = conn.execute(
        select(work_orders).where(work_orders.c.machine == machine, work_orders.c.status == Status.IN_PROGRESS.value)
    ).first()
    return _wo(row) if row else None


def dispatch_list(conn: Connection, machine: str) -> list[WorkOrder]:
    """Released and running orders of a machine: highest priority first, then earliest due date."""
    wo = work_orders.c
    rows = conn.execute(
        select(work_orders)
        .where(wo.machine == machine, wo.status.in_([Status.RELEASED.value, Status.IN_PROGRESS.value]))
        .order_by(wo.priority.desc(), wo.due.is_(None), wo.due, wo.id)
    ).all()
    return [_wo(r) for r in rows]


def list_orders(conn: Connection, status: str | None = None, machine: str | None = None) -> list[WorkOrder]:
    query = select(work_orders).order_by(work_orders.c.id)
    if status:
        query = query.where(work_orders.c.status == status)
    if machine:
        query = query.where(work_orders.c.machine == machine)
    return [_wo(r) for r in conn.execute(query)]


def progress(conn: Connection, code: str) -> dict[str, int]:
    me = machine_events.c
    rows = conn.execute(
        select(me.kind, func.coalesce(func.sum(me.quantity), 0)).where(me.work_order == code).group_by(me.kind)
    ).all()
    done = {kind: int(q) for kind, q in rows}
    return {"good": done.get("good", 0), "scrap": done.get("scrap", 0), "rework": done.get("rework", 0)}


Spans = list[tuple[datetime, datetime | None, str]]  # (start, end or None while it still is, order code)


def in_progress_spans(conn: Connection, machines: Sequence[str]) -> dict[str, Spans]:
    """When each order of each machine was in progress: (start, end or None while it still is, code), in one
    statement."""
    wo, ev = work_orders.c, work_order_events.c
    out: dict[str, Spans] = {m: [] for m in machines}
    if not out:
        return out
    rows = conn.execute(
        select(wo.machine, wo.code, ev.ts, ev.from_status, ev.to_status)
        .join(work_order_events, ev.work_order_id == wo.id)
        .where(wo.machine.in_(list(out)))
        .order_by(ev.ts, ev.id)
    ).all()
    open_: dict[tuple[str, str], datetime] = {}
    for machine, code, ts, before, after in rows:
        if after == Status.IN_PROGRESS.value:
            open_[machine, code] = ts
        elif before == Status.IN_PROGRESS.value and (machine, code) in open_:
            out[machine].append((open_.pop((machine, code)), ts, code))
    for (machine, code), start in open_.items():
        out[machine].append((start, None, code))
    return out


def attribute(
    conn: Connection,
    events: list[MachineEvent],
    spans: dict[str, list[tuple[datetime, datetime | None, str]]] | None = None,
) -> list[MachineEvent]:
    """Counts without a work order get the order that was in progress on their machine at their time.

    The work order is not part of an event's identity (``event_key``), so a count delivered again is still
    recognised as the same count.  ``spans`` keeps each machine's order spans from one call to the next (a caller
    that moves an order of a machine drops the machine's entry)."""
    spans = {} if spans is None else spans
    out: list[MachineEvent] = []
    for ev in events:
        if isinstance(ev, CountEvent) and ev.work_order is None:
            if ev.machine not in spans:
                spans.update(in_progress_spans(conn, sorted({e.machine for e in events} - set(spans))))
            code = next(
                (c for start, end, c in spans[ev.machine] if start <= ev.ts and (end is None or ev.ts < end)), None
            )
            if code is not None:
                ev = replace(ev, work_order=code)
        out.append(ev)
    return out


ASSIGNABLE = (Status.PLANNED, Status.RELEASED)


def assign(
    conn: Connection,
    plant: Plant,
    code: str,
    actor: str,
    *,
    machine: str | None = None,
    operator: str | None = None,
    priority: int | None = None,
    due: datetime | None = None,
    clear: tuple[str, ...] = (),
) -> WorkOrder:
    """Change the machine, operator, priority or due date of an order that has not started; ``clear`` names the
    fields to empty (``machine``, ``operator``, ``due``).  Recorded as an event with the changes."""
    row = _row(conn, code, lock=True)
    _check_reassignable(code, row.status)
    refuse(p for p in (_machine_problem(plant, machine), priority_problem(priority), due_problem(due)) if p)
    values: dict[str, Any] = {
        k: v
        for k, v in (("machine", machine), ("operator", operator), ("priority", priority), ("due", due))
        if v is not None
    }
    values |= {k: None for k in clear if k in ("machine", "operator", "due")}
    if not values:
        raise NothingToAssign()
    conn.execute(update(work_orders).where(work_orders.c.id == row.id).values(**values))
    shown = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in values.items()}
    _note_in_history(conn, row, actor, "assigned " + ", ".join(f"{k}={v}" for k, v in shown.items()))
    return get(conn, code)


def _note_in_history(conn: Connection, row: Any, actor: str, reason: str) -> None:
    """A line in the order's history for a change that keeps its status (an assignment, an edit)."""
    conn.execute(
        insert(work_order_events).values(
            work_order_id=row.id,
            ts=datetime.now(timezone.utc),
            from_status=row.status,
            to_status=row.status,
            actor=actor,
            reason=reason,
        )  # fmt: skip
    )


def _check_reassignable(code: str, status: str) -> None:
    """Machine and operator change only before the order starts: no unit is counted on the old machine yet."""
    if Status(status) not in ASSIGNABLE:
        raise WorkOrderStarted(work_order=code, status=status)


EDITABLE = (Status.PLANNED, Status.RELEASED, Status.IN_PROGRESS)
EDITABLE_FIELDS = ("product", "quantity", "due", "priority", "machine", "operator")


def edit(conn: Connection, plant: Plant, code: str, actor: str, fields: dict[str, Any]) -> tuple[WorkOrder, WorkOrder]:
    """Correct an order: ``fields`` maps each field to change (of ``EDITABLE_FIELDS``) to its new value (None
    empties machine, operator or due date).  Returns the order before and after; the fields whose value is
    already the order's are left out of the change, and their rules do not apply.

    Completed, closed and cancelled orders are refused; the product changes only while planned or released (no
    unit is made yet), the machine and operator under the rule of :func:`assign`, the quantity never below the
    good units already counted for the order.  The order is read under its row lock, so two corrections of one
    order are decided one after the other."""
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"not an editable field: {', '.join(sorted(unknown))}")
    if not fields:
        raise NothingToEdit()
    row = _row(conn, code, lock=True)
    before = _wo(row)
    if before.status not in EDITABLE:
        raise WorkOrderNotEditable(work_order=code, status=row.status)
    values = {k: v for k, v in fields.items() if getattr(before, k) != v}
    if "product" in values and before.status not in ASSIGNABLE:
        raise WorkOrderProductFixed(work_order=code, status=row.status)
    if "machine" in values or "operator" in values:
        _check_reassignable(code, row.status)
    problems = []
    if "product" in values:
        problems.append(_product_problem(conn, plant, values["product"]))
    if "quantity" in values:
        problems.append(_quantity_problem(values["quantity"]))
    problems += [
        _machine_problem(plant, values.get("machine")),
        priority_problem(values.get("priority")),
        due_problem(values.get("due")),
    ]
    refuse(p for p in problems if p is not None)
    if "quantity" in values:
        good = progress(conn, code)["good"]
        if values["quantity"] < good:
            raise WorkOrderQuantityBelowGood(work_order=code, quantity=values["quantity"], good=good)
    if not values:
        return before, before
    conn.execute(update(work_orders).where(work_orders.c.id == row.id).values(**values))
    after = get(conn, code)
    was, now = before.to_dict(), after.to_dict()
    _note_in_history(conn, row, actor, "changed " + ", ".join(f"{k} {_said(was[k])} → {_said(now[k])}" for k in values))
    return before, after


def _said(value: Any) -> str:
    return "-" if value is None else str(value)


def operations_of(conn: Connection, order: WorkOrder, plant: Plant) -> list[dict[str, Any]]:
    """The order's operations from its product's routing: where, planned quantity and time (setup + quantity x
    ideal cycle time), and the good and scrap counts made for this order on the operation's work centre (a
    machine, or every machine of a line)."""
    rows = conn.execute(select(operations).where(operations.c.item == order.product).order_by(operations.c.seq)).all()
    if not rows:
        return []
    me = machine_events.c
    counted = conn.execute(
        select(me.machine_id, me.kind, func.coalesce(func.sum(me.quantity), 0))
        .where(me.work_order == order.code, me.kind.in_(["good", "scrap"]))
        .group_by(me.machine_id, me.kind)
    ).all()
    code_of = {mid: code for code, mid in machine_ids(conn).items()}
    done: dict[tuple[str, str], int] = {}
    for mid, kind, qty in counted:
        done[(code_of.get(mid, ""), kind)] = int(qty)
    line_machines = {ln.code: [m.code for m in ln.machines] for ln in plant.lines}
    out = []
    for r in rows:
        where = line_machines.get(r.work_centre, [r.work_centre])
        good = sum(done.get((m, "good"), 0) for m in where)
        scrap = sum(done.get((m, "scrap"), 0) for m in where)
        out.append(
            {
                "seq": r.seq,
                "operation": r.code,
                "name": r.name,
                "work_centre": r.work_centre,
                "planned_qty": order.quantity,
                "planned_s": r.setup_s + order.quantity * r.ideal_cycle_s,
                "good": good,
                "scrap": scrap,
                "status": "done" if good >= order.quantity else "started" if good or scrap else "waiting",
            }
        )
    return out
