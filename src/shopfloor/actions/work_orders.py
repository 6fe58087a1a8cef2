"""Work orders: create one, assign its machine, operator, priority or due date, correct it, and move it through
its statuses.

Each returns the order with its progress.  Live events: ``("work_order", code)``, and ``("machine", code)`` of
the machines whose tile shows it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import IntegrityError

from shopfloor.actions.core import change
from shopfloor.errors import MachineBusy, NothingToEdit, OperatorUnknown, WorkOrderExists
from shopfloor.model.work_orders import Status
from shopfloor.store import work_orders as store
from shopfloor.store.schema import users


def order_with_progress(conn: Connection, order: store.WorkOrder) -> dict[str, Any]:
    return {**order.to_dict(), "progress": store.progress(conn, order.code)}


def _known_operator(conn: Connection, username: str | None) -> str | None:
    if username is not None and conn.execute(select(users.c.id).where(users.c.username == username)).first() is None:
        raise OperatorUnknown(operator=username)
    return username


def create_work_order(
    engine: Engine,
    actor: str,
    *,
    code: str,
    product: str,
    quantity: int,
    machine: str | None = None,
    priority: int = 0,
    due: datetime | None = None,
    operator: str | None = None,
) -> dict[str, Any]:
    """A new order, planned."""
    with change(engine, actor) as c:
        c.duplicate_means(WorkOrderExists(work_order=code))
        order = store.create(
            c.conn, c.plant(), code, product, quantity, actor, machine, priority, due, _known_operator(c.conn, operator)
        )
        c.audit("work_order.create", f"work_order:{code}", order.to_dict())
        c.publish("work_order", code)
        c.publish("machine", order.machine)
        return order_with_progress(c.conn, order)


def assign_work_order(
    engine: Engine,
    actor: str,
    code: str,
    *,
    machine: str | None = None,
    operator: str | None = None,
    priority: int | None = None,
    due: datetime | None = None,
    clear: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Change the machine, operator, priority or due date of an order that has not started; ``clear`` names the
    fields to empty (machine, operator, due)."""
    with change(engine, actor) as c:
        before = store.get(c.conn, code)
        order = store.assign(
            c.conn,
            c.plant(),
            code,
            actor,
            machine=machine,
            operator=_known_operator(c.conn, operator),
            priority=priority,
            due=due,
            clear=clear,
        )
        changed = {"machine": machine, "operator": operator, "priority": priority, "due": due, "clear": list(clear)}
        detail = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in changed.items() if v}
        c.audit("work_order.assign", f"work_order:{code}", detail)
        c.publish("work_order", code)
        c.publish("machine", before.machine, order.machine)
        return order_with_progress(c.conn, order)


class _Unchanged:
    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED: Any = _Unchanged()  # a field left as it is


def edit_work_order(
    engine: Engine,
    actor: str,
    code: str,
    *,
    product: str = UNCHANGED,
    quantity: int = UNCHANGED,
    due: datetime | None = UNCHANGED,
    priority: int = UNCHANGED,
    machine: str | None = UNCHANGED,
    operator: str | None = UNCHANGED,
) -> dict[str, Any]:
    """Correct an order: only the fields given change (None empties due, machine or operator).

    Completed, closed and cancelled orders are refused (``WorkOrderNotEditable``); the product changes only while
    planned or released (``WorkOrderProductFixed``); the quantity while planned, released or in progress, never
    below the good units counted for it (``WorkOrderQuantityBelowGood``); machine and operator under the rule of
    :func:`assign_work_order`.  A field given with the value the order has already is no change: when none
    changes, nothing is written or audited.  The audit entry holds each changed field before and after."""
    given = {
        k: v
        for k, v in (("product", product), ("quantity", quantity), ("due", due), ("priority", priority),
                     ("machine", machine), ("operator", operator))
        if v is not UNCHANGED
    }  # fmt: skip
    if not given:
        raise NothingToEdit()
    with engine.connect() as conn:
        current = store.get(conn, code)
    if current.status in store.EDITABLE and all(getattr(current, k) == v for k, v in given.items()):
        with engine.connect() as conn:
            return order_with_progress(conn, current)
    with change(engine, actor) as c:
        if "operator" in given:
            _known_operator(c.conn, given["operator"])
        before, order = store.edit(c.conn, c.plant(), code, actor, given)
        was, now = before.to_dict(), order.to_dict()
        changed = [k for k in given if was[k] != now[k]]
        c.audit(
            "work_order.edit",
            f"work_order:{code}",
            {"before": {k: was[k] for k in changed}, "after": {k: now[k] for k in changed}},
        )
        c.publish("work_order", code)
        c.publish("machine", before.machine, order.machine)
        return order_with_progress(c.conn, order)


def transition_work_order(
    engine: Engine,
    actor: str,
    code: str,
    to: Status | str,
    *,
    machine: str | None = None,
    reason: str | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """Move an order to status ``to`` (``in_progress`` on ``machine``, or on the machine it is assigned to);
    an illegal step is refused with the steps its status allows."""
    target = Status(to)
    try:
        with change(engine, actor) as c:
            order = store.transition(c.conn, code, target, actor, reason, machine, at)
            c.audit("work_order.status", f"work_order:{code}", {"to": target.value}, reason)
            c.publish("work_order", code)
            c.publish("machine", order.machine)
            return order_with_progress(c.conn, order)
    except IntegrityError:
        # Two orders started on one machine at the same instant: the unique index kept the first one.
        busy = _busy(engine, code, target, machine)
        if busy is None:
            raise
        raise busy from None


def _busy(engine: Engine, code: str, target: Status, machine: str | None) -> MachineBusy | None:
    if target is not Status.IN_PROGRESS:
        return None
    with engine.connect() as conn:
        where = machine or store.get(conn, code).machine
        running = store.running_on(conn, where) if where else None
    return MachineBusy(running=running.code, machine=where) if running is not None else None


def reorder_work_orders(engine: Engine, actor: str, codes: list[str]) -> list[dict[str, Any]]:
    """Put orders in a new sequence: the first gets the highest priority (the dispatch list of a machine shows
    the highest first).  Orders already started keep theirs and are refused."""
    with change(engine, actor) as c:
        plant = c.plant()
        out = []
        for rank, code in enumerate(codes):
            order = store.assign(c.conn, plant, code, actor, priority=len(codes) - rank)
            out.append(order)
        c.audit("work_order.reorder", "work_orders", {"sequence": codes})
        c.publish("work_order", *codes)
        c.publish("machine", *(o.machine for o in out))
        return [order_with_progress(c.conn, o) for o in out]
