"""Operator terminal (POP) entries: start, pause, setup, finish, good and scrap counts, stop reasons.

Each entry carries the time of the tap and a key from the terminal.  The stored event is identified by its
content (machine, time, kind, quantity, ...), so the same entry sent again (a lost response, the offline queue
replayed) is stored once.  Entries are written through ``record_events`` with the operator as the actor.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Connection, select

from shopfloor.actions.imports import record_events
from shopfloor.model.events import CountEvent, CountKind, MachineEvent, MachineState, StateChange
from shopfloor.model.plant import Plant
from shopfloor.model.work_orders import Status, TransitionError
from shopfloor.store import work_orders
from shopfloor.store.events import state_run_start
from shopfloor.store.plant import StoreError, machine_ids
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


class PopError(ValueError):
    """The entry is refused; the message is shown to the operator."""


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
        raise PopError(f"unknown machine {entry.machine!r}") from None
    ts = entry.ts.astimezone(timezone.utc)
    if ts > now + MAX_CLOCK_AHEAD:
        raise PopError("the terminal's clock is ahead of the server's: set the tablet's time")
    if ts < now - MAX_OFFLINE_AGE:
        raise PopError("the entry is more than 7 days old: ask a supervisor to enter it")
    source = f"pop:{operator}"
    if entry.action in STATE_ACTIONS:
        state, reason = STATE_ACTIONS[entry.action]
        return StateChange(ts, entry.machine, state, entry.reason or reason, source)
    if entry.action in ("good", "scrap"):
        if entry.quantity is None or entry.quantity < 1:
            raise PopError("enter a quantity of at least 1")
        if entry.action == "scrap":
            if not entry.defect:
                raise PopError("choose a defect code for scrap")
            if plant.defect_codes and entry.defect not in plant.defect_codes:
                raise PopError(f"unknown defect code {entry.defect!r}")
        product = entry.product
        if product is None and entry.work_order:
            try:
                product = work_orders.get(conn, entry.work_order).product
            except StoreError as exc:
                raise PopError(str(exc)) from None
        product = product or current_product(conn, plant, entry.machine)
        kind = CountKind.GOOD if entry.action == "good" else CountKind.SCRAP
        return CountEvent(ts, entry.machine, kind, entry.quantity, product, entry.defect, source, entry.work_order)
    if entry.action == "reason":
        if not entry.reason:
            raise PopError("choose a reason")
        if plant.downtime_reasons and entry.reason not in plant.downtime_reasons:
            raise PopError(f"unknown downtime reason {entry.reason!r}")
        mid = machine_ids(conn)[entry.machine]
        last = _last_state(conn, mid, ts)
        if last is None or last.state not in (MachineState.DOWN.value, MachineState.IDLE.value):
            raise PopError("the machine is not stopped: there is no stop to explain")
        # The reason belongs to the stop: recorded as of the stop's start, so reports attribute all of it.
        start = state_run_start(conn, mid, ts) or last.ts
        return StateChange(start, entry.machine, MachineState(last.state), entry.reason, source)
    raise PopError(f"unknown action {entry.action!r}")


def _order_step(conn: Connection, entry: PopEntry, operator: str) -> None:
    """Start moves the chosen order to in progress on the machine; finish completes the running one.  A
    resent entry finds the order already there and changes nothing."""
    actor = f"user:{operator}"
    try:
        if entry.action == "start" and entry.work_order:
            wo = work_orders.get(conn, entry.work_order)
            if wo.status is Status.IN_PROGRESS and wo.machine == entry.machine:
                return
            if wo.status is Status.PLANNED:
                work_orders.transition(conn, wo.code, Status.RELEASED, actor, "started on the terminal", at=entry.ts)
            work_orders.transition(conn, wo.code, Status.IN_PROGRESS, actor, None, entry.machine, at=entry.ts)
        elif entry.action == "finish":
            running = work_orders.running_on(conn, entry.machine)
            if running is not None:
                work_orders.transition(
                    conn, running.code, Status.COMPLETED, actor, "finished on the terminal", at=entry.ts
                )
    except (StoreError, TransitionError) as exc:
        raise PopError(str(exc)) from None


def record_entry(conn: Connection, plant: Plant, entry: PopEntry, operator: str) -> dict[str, Any]:
    now = datetime.now(timezone.utc)
    event = to_event(conn, plant, entry, operator, now)
    _order_step(conn, entry, operator)
    summary = record_events(conn, plant, [event], f"user:{operator}", f"pop.{entry.action}", f"machine:{entry.machine}")
    return {"stored": True, "duplicate": summary["inserted"] == 0, "key": entry.key, "action": entry.action}
