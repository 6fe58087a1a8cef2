"""Maintenance: moulds and where they are mounted, preventive plans, maintenance orders (preventive and
breakdowns) and the server's watch on machines that stay down.

A preventive order that starts puts its machine in ``planned_stop`` (planned downtime in the KPI engine); closed
after its planned window, the time past the window is an unplanned delay (``analytics.maintenance.pm_states``).
Live events: ``("maintenance", code)`` of the order or plan, ``("mould", code)``, and ``("machine", code)`` of the
machine whose tile shows it.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Engine

from shopfloor.actions.core import change
from shopfloor.actions.events import store_events
from shopfloor.analytics.maintenance import order_cost, pm_states
from shopfloor.errors import (
    BreakdownAlreadyOpen,
    ChecklistIncomplete,
    MachineUnknown,
    MaintenanceNumberInvalid,
    MaintenancePartInvalid,
    MaintenancePlanExists,
    MaintenancePlanSubject,
    MaintenanceShotsNeedMould,
    MaintenanceTriggerInvalid,
    MouldExists,
)
from shopfloor.model.maintenance import OrderKind, OrderStatus, Trigger
from shopfloor.model.plant import Plant
from shopfloor.settings import Settings
from shopfloor.store import maintenance as store
from shopfloor.store.events import state_run_start
from shopfloor.store.locks import lock_name
from shopfloor.store.plant import machine_ids

log = logging.getLogger(__name__)
WATCH_ACTOR = "system:maintenance"


def _now(at: datetime | None) -> datetime:
    return (at or datetime.now(timezone.utc)).astimezone(timezone.utc)


def _number(field: str, value: Any, minimum: float, strict: bool = False) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise MaintenanceNumberInvalid(field=field, minimum=minimum, value=str(value)) from None
    if not math.isfinite(number) or number < minimum or (strict and number == minimum):
        raise MaintenanceNumberInvalid(field=field, minimum=minimum, value=str(value))
    return number


def _machine(plant: Plant, code: str) -> str:
    try:
        plant.machine(code)
    except KeyError:
        raise MachineUnknown(machine=code) from None
    return code


# -- moulds --------------------------------------------------------------------------------------------------
def create_mould(
    engine: Engine,
    actor: str,
    *,
    code: str,
    name: str,
    cavities: int,
    life_shots: int | None = None,
    initial_shots: int = 0,
) -> dict[str, Any]:
    """A mould or tool: cavities (one shot makes that many parts), life in shots, shots it has made before."""
    cavities = int(_number("cavities", cavities, 1))
    life = int(_number("life_shots", life_shots, 1)) if life_shots is not None else None
    initial = int(_number("initial_shots", initial_shots, 0))
    with change(engine, actor) as c:
        c.duplicate_means(MouldExists(mould=code))
        lock_name(c.conn, "mould", code)
        if code in store.mould_codes(c.conn):
            raise MouldExists(mould=code)
        now = _now(None)
        store.create_mould(c.conn, code, name or code, cavities, life, initial, now)
        made = store.mould_dict(c.conn, c.plant(), code, now)
        c.audit("mould.create", f"mould:{code}", {"cavities": cavities, "life_shots": life, "initial_shots": initial})
        c.publish("mould", code)
        return made


def mount_mould(engine: Engine, actor: str, code: str, *, machine: str, at: datetime | None = None) -> dict[str, Any]:
    """Mount a mould on a machine: from now on the machine's counts are its shots."""
    with change(engine, actor) as c:
        _machine(c.plant(), machine)
        when = _now(at)
        store.mount(c.conn, code, machine, when, actor)
        c.audit("mould.mount", f"mould:{code}", {"machine": machine, "at": when.isoformat()})
        c.publish("mould", code)
        c.publish("machine", machine)
        return store.mould_dict(c.conn, c.plant(), code, when)


def unmount_mould(engine: Engine, actor: str, code: str, *, at: datetime | None = None) -> dict[str, Any]:
    """Take a mould off the machine it is mounted on."""
    with change(engine, actor) as c:
        when = _now(at)
        machine = store.unmount(c.conn, code, when, actor)
        c.audit("mould.unmount", f"mould:{code}", {"machine": machine, "at": when.isoformat()})
        c.publish("mould", code)
        c.publish("machine", machine)
        return store.mould_dict(c.conn, c.plant(), code, when)


# -- plans ---------------------------------------------------------------------------------------------------
def create_maintenance_plan(
    engine: Engine,
    actor: str,
    *,
    code: str,
    name: str,
    trigger: str,
    interval: float,
    machine: str | None = None,
    mould: str | None = None,
    warn_before: float = 0.0,
    planned_minutes: float = 60.0,
    checklist: Sequence[str] = (),
    last_done_at: datetime | None = None,
) -> dict[str, Any]:
    """A preventive plan of one machine or one mould: every ``interval`` days (calendar), hours run (run_hours),
    units made (cycles) or shots (shots, moulds only), counted from ``last_done_at`` (default: now)."""
    if (machine is None) == (mould is None):
        raise MaintenancePlanSubject()
    try:
        kind = Trigger(trigger)
    except ValueError:
        raise MaintenanceTriggerInvalid(trigger=trigger, allowed=[t.value for t in Trigger]) from None
    if kind is Trigger.SHOTS and mould is None:
        raise MaintenanceShotsNeedMould()
    every = _number("interval", interval, 0, strict=True)
    warn = _number("warn_before", warn_before, 0)
    minutes = _number("planned_minutes", planned_minutes, 0, strict=True)
    items = [str(i).strip() for i in checklist if str(i).strip()]
    with change(engine, actor) as c:
        c.duplicate_means(MaintenancePlanExists(plan=code))
        if machine is not None:
            _machine(c.plant(), machine)
        else:
            store.mould_row(c.conn, mould)
        lock_name(c.conn, "maintenance_plan_code", code)
        if code in store.plan_codes(c.conn):
            raise MaintenancePlanExists(plan=code)
        now = _now(None)
        plan = store.create_plan(
            c.conn,
            {
                "code": code,
                "name": name or code,
                "machine": machine,
                "mould": mould,
                "trigger": kind.value,
                "interval": every,
                "warn_before": warn,
                "planned_minutes": minutes,
                "checklist": items,
                "last_done_at": _now(last_done_at),
                "active": True,
                "created_at": now,
            },
        )
        c.audit("maintenance.plan", f"maintenance_plan:{code}", plan.to_dict())
        c.publish("maintenance", code)
        c.publish("machine", machine)
        return {**plan.to_dict(), "due": store.plan_due(c.conn, c.plant(), plan, now).to_dict()}


# -- orders --------------------------------------------------------------------------------------------------
def _breakdown_values(conn, machine: str, actor: str, source: str, description: str | None, now: datetime):
    mid = machine_ids(conn)[machine]
    since = state_run_start(conn, mid, now)
    return {
        "kind": OrderKind.BREAKDOWN.value,
        "machine": machine,
        "mould": store.mounted_on(conn, machine),
        "source": source,
        "description": description,
        "raised_at": now,
        "raised_by": actor,
        "down_since": since if since is not None and since <= now else now,
        "checklist": [],
    }


def raise_breakdown(
    engine: Engine,
    actor: str,
    machine: str,
    *,
    description: str | None = None,
    source: str = "terminal",
    at: datetime | None = None,
) -> dict[str, Any]:
    """A breakdown request for maintenance (from the terminal or a page); its downtime is linked from the start
    of the machine's current stop.  A machine has one open breakdown request at a time."""
    with change(engine, actor) as c:
        _machine(c.plant(), machine)
        now = _now(at)
        order = store.raise_order(c.conn, _breakdown_values(c.conn, machine, actor, source, description, now))
        c.audit("maintenance.breakdown", f"maintenance_order:{order['code']}", {"machine": machine, "source": source})
        c.publish("maintenance", order["code"])
        c.publish("machine", machine)
        return order


def open_preventive_order(engine: Engine, actor: str, plan: str, *, at: datetime | None = None) -> dict[str, Any]:
    """An order for a plan that is due (or any time before): its checklist and planned window come from the plan."""
    with change(engine, actor) as c:
        p = store.get_plan(c.conn, plan, lock=True)
        now = _now(at)
        machine = p.machine or (store.mould_dict(c.conn, c.plant(), p.mould, now)["machine"] if p.mould else None)
        order = store.raise_order(
            c.conn,
            {
                "kind": OrderKind.PREVENTIVE.value,
                "machine": machine,
                "mould": p.mould,
                "plan_id": p.id,
                "plan_code": p.code,
                "source": "plan",
                "description": p.name,
                "raised_at": now,
                "raised_by": actor,
                "planned_minutes": p.planned_minutes,
                "checklist": [{"item": item, "done": False} for item in p.checklist],
            },
        )
        c.audit("maintenance.preventive", f"maintenance_order:{order['code']}", {"plan": plan})
        c.publish("maintenance", order["code"], plan)
        c.publish("machine", machine)
        return order


def acknowledge_maintenance(engine: Engine, actor: str, code: str, *, at: datetime | None = None) -> dict[str, Any]:
    """Maintenance staff take the request."""
    with change(engine, actor) as c:
        order = store.step(c.conn, code, OrderStatus.ACKNOWLEDGED, actor, _now(at))
        c.audit("maintenance.acknowledge", f"maintenance_order:{code}")
        c.publish("maintenance", code)
        c.publish("machine", order["machine"])
        return order


def start_maintenance(engine: Engine, actor: str, code: str, *, at: datetime | None = None) -> dict[str, Any]:
    """Work begins; a preventive order puts its machine in planned downtime for its planned window."""
    with change(engine, actor) as c:
        now = _now(at)
        order = store.step(c.conn, code, OrderStatus.IN_PROGRESS, actor, now)
        if order["kind"] == OrderKind.PREVENTIVE.value and order["machine"]:
            states = pm_states(order["machine"], now, order["planned_minutes"], None, f"maintenance:{code}")
            store_events(c.conn, c.plant(), list(states))
        c.audit("maintenance.start", f"maintenance_order:{code}")
        c.publish("maintenance", code)
        c.publish("machine", order["machine"])
        return order


def _parts(parts: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for i, p in enumerate(parts, 1):
        try:
            part = str(p["part"]).strip()
            qty = float(p["qty"])
            unit_cost = float(p.get("unit_cost") or 0)
        except (KeyError, TypeError, ValueError):
            raise MaintenancePartInvalid(line=i) from None
        if not part or not math.isfinite(qty) or qty <= 0 or not math.isfinite(unit_cost) or unit_cost < 0:
            raise MaintenancePartInvalid(line=i)
        out.append({"part": part, "qty": qty, "unit_cost": unit_cost})
    return out


def close_maintenance(
    engine: Engine,
    actor: str,
    code: str,
    *,
    done: Sequence[str] = (),
    parts: Sequence[dict[str, Any]] = (),
    labour_minutes: float = 0.0,
    hourly_rate: float = 0.0,
    note: str | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """Close an order with the checklist items done (a preventive order needs every item), the parts used, the
    labour and its rate; the cost is parts + labour.  A preventive order resets its plan's count and hands the
    machine back (past its planned window, the overrun is an unplanned delay)."""
    used = _parts(parts)
    minutes = _number("labour_minutes", labour_minutes, 0)
    rate = _number("hourly_rate", hourly_rate, 0)
    with change(engine, actor) as c:
        now = _now(at)
        before = store.get_order(c.conn, code)
        checked = [{"item": i["item"], "done": i["item"] in set(done)} for i in before["checklist"]]
        missing = [i["item"] for i in checked if not i["done"]]
        if before["kind"] == OrderKind.PREVENTIVE.value and before["status"] != "closed" and missing:
            raise ChecklistIncomplete(items=missing)
        order = store.step(
            c.conn,
            code,
            OrderStatus.CLOSED,
            actor,
            now,
            checklist=checked,
            parts=used,
            labour_minutes=minutes,
            cost=round(order_cost(used, minutes, rate), 2),
            note=note,
        )
        if order["kind"] == OrderKind.PREVENTIVE.value:
            plan_id = store.order_plan_id(c.conn, code)
            if plan_id is not None:
                store.mark_done(c.conn, plan_id, now)
            if order["machine"] and order["started_at"]:
                started = datetime.fromisoformat(order["started_at"])
                states = pm_states(order["machine"], started, order["planned_minutes"], now, f"maintenance:{code}")
                store_events(c.conn, c.plant(), states[1:])
        c.audit("maintenance.close", f"maintenance_order:{code}", {"cost": order["cost"], "labour_minutes": minutes})
        c.publish("maintenance", code, order["plan"])
        c.publish("machine", order["machine"])
        return order


# -- the watch -----------------------------------------------------------------------------------------------
def raise_breakdowns_for_long_stops(
    engine: Engine, actor: str, *, after: timedelta, at: datetime | None = None
) -> list[dict[str, Any]]:
    """A breakdown request for every machine down for ``after`` or longer that has none open (the server runs
    this every minute).  A machine that got one meanwhile (the terminal) is skipped."""
    now = _now(at)
    with engine.connect() as conn:
        candidates = store.long_stops(conn, now, after)
    raised = []
    for machine, _since in candidates:
        try:
            raised.append(
                raise_breakdown(
                    engine,
                    actor,
                    machine,
                    source="auto",
                    at=now,
                    description=f"down for {int(after.total_seconds() // 60)} min or more",
                )
            )
        except BreakdownAlreadyOpen:
            continue
    return raised


async def watch(engine: Engine, settings: Settings, every_s: float = 60.0) -> None:
    """Inside ``shopfloor serve``: raise breakdown requests for machines that stay down."""
    after = timedelta(minutes=settings.breakdown_after_min)
    while True:
        try:
            await asyncio.to_thread(raise_breakdowns_for_long_stops, engine, WATCH_ACTOR, after=after)
        except Exception:  # noqa: BLE001 - a store without plant yet, or a store away: try again later
            log.exception("the maintenance watch could not run")
        await asyncio.sleep(every_s)
