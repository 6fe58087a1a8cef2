"""Operator terminal (POP) entries: start, pause, setup, finish, good and scrap counts, stop reasons.

Each entry carries the time of the tap and a key from the terminal.  The stored event is identified by its
content (machine, time, kind, quantity, ...), so the same entry sent again (a lost response, the offline queue
replayed) is stored once.  Start and finish also move the chosen work order.  Live events: the machine, and the
work order moved.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Connection, Engine, select

from shopfloor.actions.core import Change, change
from shopfloor.actions.documents import check_confirmed
from shopfloor.actions.events import store_events
from shopfloor.actions.skills import check_skills
from shopfloor.errors import (
    DefectUnknown,
    DowntimeReasonUnknown,
    MachineNotStopped,
    MachineUnknown,
    ReasonMissing,
    TerminalActionUnknown,
    TerminalClockAhead,
    TerminalDefectMissing,
    TerminalEntryTooOld,
    TerminalQuantity,
)
from shopfloor.model.events import CountEvent, CountKind, MachineEvent, MachineState, StateChange
from shopfloor.model.plant import Plant
from shopfloor.model.work_orders import Status
from shopfloor.store import work_orders
from shopfloor.store.events import state_run_start
from shopfloor.store.plant import machine_ids
from shopfloor.store.schema import machine_events

MAX_CLOCK_AHEAD = timedelta(minutes=5)
MAX_OFFLINE_AGE = timedelta(days=7)
STATE_ACTIONS = {
    "start": (MachineState.RUNNING, None),
    "pause": (MachineState.IDLE, "PAUSE"),
    "setup": (MachineState.SETUP, None),
    "finish": (MachineState.NO_ORDER, "FINISHED"),
}
ACTIONS = (*STATE_ACTIONS, "good", "scrap", "reason")


@dataclass(frozen=True)
class PopEntry:
    key: str
    ts: datetime
    machine: str
    action: str
    quantity: int | None = None
    defect: str | None = None
    reason: str | None = None
    product: str | None = None
    work_order: str | None = None


def current_product(conn: Connection, plant: Plant, machine: str) -> str | None:
    """The product of the machine's latest count, else the product its tag mapping names."""
    mid = machine_ids(conn)[machine]
    me = machine_events.c
    product = conn.execute(
        select(me.product)
        .where(me.machine_id == mid, me.kind != "state", me.product.is_not(None))
        .order_by(me.ts.desc(), me.id.desc())
        .limit(1)
    ).scalar()
    if product:
        return product
    tags = plant.machine(machine).tags or {}
    default = (tags.get("product") or {}).get("default") if isinstance(tags.get("product"), dict) else None
    return default


def _last_state(conn: Connection, machine_id: int, at: datetime):
    me = machine_events.c
    return conn.execute(
        select(me.ts, me.state)
        .where(me.machine_id == machine_id, me.kind == "state", me.ts <= at)
        .order_by(me.ts.desc(), me.id.desc())
        .limit(1)
    ).first()


def to_event(conn: Connection, plant: Plant, entry: PopEntry, operator: str, now: datetime) -> MachineEvent:
    try:
        plant.machine(entry.machine)
    except KeyError:
        raise MachineUnknown(machine=entry.machine) from None
    ts = entry.ts.astimezone(timezone.utc)
    if ts > now + MAX_CLOCK_AHEAD:
        raise TerminalClockAhead()
    if ts < now - MAX_OFFLINE_AGE:
        raise TerminalEntryTooOld(days=MAX_OFFLINE_AGE.days)
    source = f"pop:{operator}"
    if entry.action in STATE_ACTIONS:
        state, reason = STATE_ACTIONS[entry.action]
        return StateChange(ts, entry.machine, state, entry.reason or reason, source)
    if entry.action in ("good", "scrap"):
        if entry.quantity is None or entry.quantity < 1:
            raise TerminalQuantity()
        if entry.action == "scrap":
            if not entry.defect:
                raise TerminalDefectMissing()
            if plant.defect_codes and entry.defect not in plant.defect_codes:
                raise DefectUnknown(defect=entry.defect)
        product = entry.product
        if product is None and entry.work_order:
            product = work_orders.get(conn, entry.work_order).product
        product = product or current_product(conn, plant, entry.machine)
        kind = CountKind.GOOD if entry.action == "good" else CountKind.SCRAP
        return CountEvent(ts, entry.machine, kind, entry.quantity, product, entry.defect, source, entry.work_order)
    if entry.action == "reason":
        if not entry.reason:
            raise ReasonMissing()
        if plant.downtime_reasons and entry.reason not in plant.downtime_reasons:
            raise DowntimeReasonUnknown(reason=entry.reason)
        mid = machine_ids(conn)[entry.machine]
        last = _last_state(conn, mid, ts)
        if last is None or last.state not in (MachineState.DOWN.value, MachineState.IDLE.value):
            raise MachineNotStopped()
        # The reason belongs to the stop: recorded as of the stop's start, so reports attribute all of it.
        start = state_run_start(conn, mid, ts) or last.ts
        return StateChange(start, entry.machine, MachineState(last.state), entry.reason, source)
    raise TerminalActionUnknown(action=entry.action)


def _order_step(c: Change, entry: PopEntry) -> None:
    """Start moves the chosen order to in progress on the machine; finish completes the running one.  A
    resent entry finds the order already there and changes nothing."""
    if entry.action == "start" and entry.work_order:
        wo = work_orders.get(c.conn, entry.work_order)
        if wo.status is Status.IN_PROGRESS and wo.machine == entry.machine:
            return
        # The documents in force for this order at this machine must have been read and confirmed.
        check_confirmed(c.conn, c.plant(), wo.code, entry.machine, c.actor, entry.ts)
        # Whoever starts it holds the skills its operations here need.
        check_skills(c.conn, c.plant(), wo.code, entry.machine, c.actor, entry.ts)
        if wo.status is Status.PLANNED:
            work_orders.transition(c.conn, wo.code, Status.RELEASED, c.actor, "started on the terminal", at=entry.ts)
        work_orders.transition(c.conn, wo.code, Status.IN_PROGRESS, c.actor, None, entry.machine, at=entry.ts)
        c.publish("work_order", wo.code)
    elif entry.action == "finish":
        running = work_orders.running_on(c.conn, entry.machine)
        if running is not None:
            work_orders.transition(
                c.conn, running.code, Status.COMPLETED, c.actor, "finished on the terminal", at=entry.ts
            )
            c.publish("work_order", running.code)


def record_terminal_entry(engine: Engine, operator: str, entry: PopEntry) -> dict[str, Any]:
    """One tap of ``operator`` (a username) on the terminal: stored once however often it is sent."""
    with change(engine, f"user:{operator}") as c:
        plant = c.plant()
        event = to_event(c.conn, plant, entry, operator, datetime.now(timezone.utc))
        _order_step(c, entry)
        summary = store_events(c.conn, plant, [event])
        c.audit(f"pop.{entry.action}", f"machine:{entry.machine}", summary)
        c.publish("machine", entry.machine)
    return {"stored": True, "duplicate": summary["inserted"] == 0, "key": entry.key, "action": entry.action}
