"""Maintenance in the store: moulds and their mounting history, preventive plans with their usage counted from the
machine data, and maintenance orders (preventive and breakdowns).

Usage since a plan was last done is read from what the store already holds: actual production time (APT) and
produced units (PQ) of the machine through the KPI queries (rollups where they cover, raw events for the rest);
for a mould, the same figures of the machines it was mounted on while it was mounted, and its shots from the
parts they made (``model.maintenance.shots``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Connection, and_, func, insert, or_, select, update

from shopfloor.analytics.maintenance import Repair, mtbf_s, mttr_s
from shopfloor.errors import (
    BreakdownAlreadyOpen,
    MachineHoldsMould,
    MachineUnknown,
    MaintenanceOrderUnknown,
    MaintenancePlanUnknown,
    MaintenanceStepNotAllowed,
    MouldMounted,
    MouldNotMounted,
    MouldUnknown,
    PlanOrderAlreadyOpen,
)
from shopfloor.model.events import MachineState
from shopfloor.model.intervals import Interval
from shopfloor.model.maintenance import (
    ORDER_STEPS,
    Due,
    OrderKind,
    OrderStatus,
    Trigger,
    can_step,
    days_since,
    due,
    shots,
)
from shopfloor.model.plant import Plant
from shopfloor.store import kpi
from shopfloor.store.events import state_run_start
from shopfloor.store.locks import lock_name
from shopfloor.store.plant import machine_ids
from shopfloor.store.schema import machine_events, maintenance_orders, maintenance_plans, mould_mounts, moulds

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _iso(ts: datetime | None) -> str | None:
    return ts.isoformat() if ts else None


# -- moulds --------------------------------------------------------------------------------------------------
def mould_row(conn: Connection, code: str, lock: bool = False) -> Any:
    q = select(moulds).where(moulds.c.code == code)
    row = conn.execute(q.with_for_update() if lock else q).first()
    if row is None:
        raise MouldUnknown(mould=code)
    return row


def create_mould(
    conn: Connection, code: str, name: str, cavities: int, life_shots: int | None, initial_shots: int, now: datetime
) -> None:
    conn.execute(
        insert(moulds).values(
            code=code,
            name=name,
            cavities=cavities,
            life_shots=life_shots,
            initial_shots=initial_shots,
            active=True,
            created_at=now,
        )
    )


def mounted_on(conn: Connection, machine: str) -> str | None:
    """The mould mounted on a machine now, or None."""
    return conn.execute(
        select(moulds.c.code)
        .join(mould_mounts, mould_mounts.c.mould_id == moulds.c.id)
        .where(mould_mounts.c.machine == machine, mould_mounts.c.unmounted_at.is_(None))
    ).scalar()


def _open_mount(conn: Connection, mould_id: int) -> Any:
    return conn.execute(
        select(mould_mounts).where(mould_mounts.c.mould_id == mould_id, mould_mounts.c.unmounted_at.is_(None))
    ).first()


def mount(conn: Connection, code: str, machine: str, at: datetime, actor: str) -> None:
    row = mould_row(conn, code, lock=True)
    lock_name(conn, "mould_machine", machine)
    here = _open_mount(conn, row.id)
    if here is not None:
        raise MouldMounted(mould=code, machine=here.machine)
    other = mounted_on(conn, machine)
    if other is not None:
        raise MachineHoldsMould(machine=machine, mould=other)
    conn.execute(insert(mould_mounts).values(mould_id=row.id, machine=machine, mounted_at=at, mounted_by=actor))


def unmount(conn: Connection, code: str, at: datetime, actor: str) -> str:
    """Take a mould off its machine; returns the machine."""
    row = mould_row(conn, code, lock=True)
    here = _open_mount(conn, row.id)
    if here is None:
        raise MouldNotMounted(mould=code)
    conn.execute(
        update(mould_mounts)
        .where(mould_mounts.c.id == here.id)
        .values(unmounted_at=max(at, here.mounted_at), unmounted_by=actor)
    )
    return here.machine


def mounts(conn: Connection, code: str) -> list[dict[str, Any]]:
    row = mould_row(conn, code)
    m = mould_mounts.c
    rows = conn.execute(select(mould_mounts).where(m.mould_id == row.id).order_by(m.mounted_at, m.id)).all()
    return [
        {
            "machine": r.machine,
            "mounted_at": _iso(r.mounted_at),
            "mounted_by": r.mounted_by,
            "unmounted_at": _iso(r.unmounted_at),
            "unmounted_by": r.unmounted_by,
        }
        for r in rows
    ]


def _mount_spans(conn: Connection, code: str, since: datetime, now: datetime) -> list[tuple[str, Interval]]:
    """Where a mould was mounted between ``since`` and ``now``: (machine, interval) each."""
    row = mould_row(conn, code)
    m = mould_mounts.c
    out = []
    for r in conn.execute(
        select(mould_mounts).where(m.mould_id == row.id, or_(m.unmounted_at.is_(None), m.unmounted_at > since))
    ):
        start, end = max(r.mounted_at, since), min(r.unmounted_at or now, now)
        if end > start:
            out.append((r.machine, Interval(start, end)))
    return out


def mould_parts(conn: Connection, plant: Plant, code: str, since: datetime, now: datetime) -> tuple[int, float]:
    """Parts made (PQ) and operating seconds (APT) with the mould mounted, from ``since`` to ``now``."""
    parts, run_s = 0, 0.0
    for machine, span in _mount_spans(conn, code, since, now):
        e = kpi.machine_elements(conn, plant, machine, span, now)
        parts += e.pq
        run_s += e.apt_s
    return parts, run_s


def mould_dict(conn: Connection, plant: Plant, code: str, now: datetime) -> dict[str, Any]:
    row = mould_row(conn, code)
    parts, _ = mould_parts(conn, plant, code, EPOCH, now)  # every mount it ever had
    total = int(row.initial_shots) + shots(parts, row.cavities)
    return {
        "code": row.code,
        "name": row.name,
        "cavities": row.cavities,
        "life_shots": row.life_shots,
        "initial_shots": row.initial_shots,
        "shots": total,
        "parts": parts,
        "life_used": round(total / row.life_shots, 4) if row.life_shots else None,
        "machine": (lambda m: m.machine if m else None)(_open_mount(conn, row.id)),
        "active": row.active,
    }


def mould_codes(conn: Connection) -> list[str]:
    return list(conn.execute(select(moulds.c.code).order_by(moulds.c.code)).scalars())


# -- plans ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    id: int
    code: str
    name: str
    machine: str | None
    mould: str | None
    trigger: Trigger
    interval: float
    warn_before: float
    planned_minutes: float
    checklist: list[str]
    last_done_at: datetime
    active: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "machine": self.machine,
            "mould": self.mould,
            "trigger": self.trigger.value,
            "interval": self.interval,
            "warn_before": self.warn_before,
            "planned_minutes": self.planned_minutes,
            "checklist": list(self.checklist),
            "last_done_at": _iso(self.last_done_at),
            "active": self.active,
        }


def _plan(row: Any) -> Plan:
    return Plan(
        row.id,
        row.code,
        row.name,
        row.machine,
        row.mould,
        Trigger(row.trigger),
        float(row.interval),
        float(row.warn_before),
        float(row.planned_minutes),
        list(row.checklist),
        row.last_done_at,
        bool(row.active),
    )


def create_plan(conn: Connection, values: dict[str, Any]) -> Plan:
    conn.execute(insert(maintenance_plans).values(**values))
    return get_plan(conn, values["code"])


def get_plan(conn: Connection, code: str, lock: bool = False) -> Plan:
    q = select(maintenance_plans).where(maintenance_plans.c.code == code)
    row = conn.execute(q.with_for_update() if lock else q).first()
    if row is None:
        raise MaintenancePlanUnknown(plan=code)
    return _plan(row)


def plan_codes(conn: Connection) -> list[str]:
    return list(conn.execute(select(maintenance_plans.c.code)).scalars())


def plans(conn: Connection, machine: str | None = None, active: bool = True) -> list[Plan]:
    p = maintenance_plans.c
    q = select(maintenance_plans).order_by(p.code)
    if active:
        q = q.where(p.active.is_(True))
    if machine is not None:
        mould = mounted_on(conn, machine)
        q = q.where(or_(p.machine == machine, and_(p.mould.is_not(None), p.mould == mould)))
    return [_plan(r) for r in conn.execute(q)]


def usage(conn: Connection, plant: Plant, plan: Plan, now: datetime) -> float:
    """How much of the plan's interval has been used since it was last done, in the trigger's unit."""
    since = plan.last_done_at
    if plan.trigger is Trigger.CALENDAR:
        return days_since(since, now)
    if plan.mould is not None:
        parts, run_s = mould_parts(conn, plant, plan.mould, since, now)
        if plan.trigger is Trigger.SHOTS:
            return float(shots(parts, mould_row(conn, plan.mould).cavities))
        return run_s / 3600 if plan.trigger is Trigger.RUN_HOURS else float(parts)
    if now <= since:
        return 0.0
    e = kpi.machine_elements(conn, plant, plan.machine, Interval(since, now), now)
    return e.apt_s / 3600 if plan.trigger is Trigger.RUN_HOURS else float(e.pq)


def plan_due(conn: Connection, plant: Plant, plan: Plan, now: datetime) -> Due:
    return due(plan.trigger, plan.interval, plan.warn_before, usage(conn, plant, plan, now), plan.last_done_at)


def mark_done(conn: Connection, plan_id: int, at: datetime) -> None:
    conn.execute(update(maintenance_plans).where(maintenance_plans.c.id == plan_id).values(last_done_at=at))


# -- orders --------------------------------------------------------------------------------------------------
def next_code(conn: Connection) -> str:
    """The next order number (MO-000001, ...); the named lock makes two requests at once take two numbers."""
    lock_name(conn, "maintenance_order_code")
    last = conn.execute(select(func.max(maintenance_orders.c.id))).scalar() or 0
    return f"MO-{last + 1:06d}"


def open_breakdown(conn: Connection, machine: str) -> str | None:
    o = maintenance_orders.c
    return conn.execute(
        select(o.code).where(o.machine == machine, o.kind == OrderKind.BREAKDOWN.value, o.status != "closed")
    ).scalar()


def open_for_plan(conn: Connection, plan_id: int) -> str | None:
    o = maintenance_orders.c
    return conn.execute(select(o.code).where(o.plan_id == plan_id, o.status != "closed")).scalar()


def raise_order(conn: Connection, values: dict[str, Any]) -> dict[str, Any]:
    """Insert an order; an open breakdown of the machine or an open order of the plan is refused (named lock on
    the machine or the plan, and the partial unique indexes behind it)."""
    if values["kind"] == OrderKind.BREAKDOWN.value:
        lock_name(conn, "breakdown", values["machine"])
        existing = open_breakdown(conn, values["machine"])
        if existing:
            raise BreakdownAlreadyOpen(machine=values["machine"], order=existing)
    if values.get("plan_id") is not None:
        lock_name(conn, "maintenance_plan", str(values["plan_id"]))
        existing = open_for_plan(conn, values["plan_id"])
        if existing:
            raise PlanOrderAlreadyOpen(plan=values["plan_code"], order=existing)
    code = next_code(conn)
    row = {k: v for k, v in values.items() if k != "plan_code"}
    conn.execute(
        insert(maintenance_orders).values(
            code=code, status=OrderStatus.OPEN.value, parts=[], labour_minutes=0.0, cost=0.0, **row
        )
    )
    return get_order(conn, code)


def _order_row(conn: Connection, code: str, lock: bool = False) -> Any:
    q = select(maintenance_orders).where(maintenance_orders.c.code == code)
    row = conn.execute(q.with_for_update() if lock else q).first()
    if row is None:
        raise MaintenanceOrderUnknown(order=code)
    return row


def _order_dict(conn: Connection, row: Any) -> dict[str, Any]:
    plan = None
    if row.plan_id is not None:
        plan = conn.execute(select(maintenance_plans.c.code).where(maintenance_plans.c.id == row.plan_id)).scalar()
    down_s = None
    if row.down_since is not None and row.closed_at is not None:
        down_s = (row.closed_at - row.down_since).total_seconds()
    return {
        "code": row.code,
        "kind": row.kind,
        "status": row.status,
        "machine": row.machine,
        "mould": row.mould,
        "plan": plan,
        "description": row.description,
        "source": row.source,
        "raised_at": _iso(row.raised_at),
        "raised_by": row.raised_by,
        "down_since": _iso(row.down_since),
        "acknowledged_at": _iso(row.acknowledged_at),
        "acknowledged_by": row.acknowledged_by,
        "started_at": _iso(row.started_at),
        "started_by": row.started_by,
        "planned_minutes": row.planned_minutes,
        "closed_at": _iso(row.closed_at),
        "closed_by": row.closed_by,
        "checklist": list(row.checklist),
        "parts": list(row.parts),
        "labour_minutes": row.labour_minutes,
        "cost": row.cost,
        "note": row.note,
        "downtime_s": down_s,
    }


def get_order(conn: Connection, code: str) -> dict[str, Any]:
    return _order_dict(conn, _order_row(conn, code))


def step(conn: Connection, code: str, to: OrderStatus, actor: str, at: datetime, **closing: Any) -> dict[str, Any]:
    """Move an order to ``to`` (checked against ``ORDER_STEPS`` on the row held FOR UPDATE)."""
    row = _order_row(conn, code, lock=True)
    status = OrderStatus(row.status)
    if not can_step(status, to):
        raise MaintenanceStepNotAllowed(
            order=code, status=status.value, allowed=[s.value for s in ORDER_STEPS[status]], target=to.value
        )
    values: dict[str, Any] = {"status": to.value}
    if to is OrderStatus.ACKNOWLEDGED:
        values.update(acknowledged_at=at, acknowledged_by=actor)
    elif to is OrderStatus.IN_PROGRESS:
        values.update(started_at=at, started_by=actor)
        if row.acknowledged_at is None and row.kind == OrderKind.BREAKDOWN.value:
            values.update(acknowledged_at=at, acknowledged_by=actor)
    else:
        values.update(closed_at=at, closed_by=actor, **closing)
    conn.execute(update(maintenance_orders).where(maintenance_orders.c.id == row.id).values(**values))
    return get_order(conn, code)


def order_plan_id(conn: Connection, code: str) -> int | None:
    return _order_row(conn, code).plan_id


def orders(
    conn: Connection, machine: str | None = None, mould: str | None = None, open_only: bool = False, limit: int = 200
) -> list[dict[str, Any]]:
    o = maintenance_orders.c
    q = select(maintenance_orders).order_by(o.raised_at.desc(), o.id.desc()).limit(limit)
    if machine is not None:
        q = q.where(o.machine == machine)
    if mould is not None:
        q = q.where(o.mould == mould)
    if open_only:
        q = q.where(o.status != "closed")
    return [_order_dict(conn, r) for r in conn.execute(q)]


def repairs(
    conn: Connection, window: Interval, machine: str | None = None, mould: str | None = None
) -> tuple[int, list[Repair], float]:
    """Breakdowns raised in ``window`` (FE), their repairs, and the cost of every order closed in it."""
    o = maintenance_orders.c
    subject = o.machine == machine if machine is not None else o.mould == mould
    raised = conn.execute(
        select(o.down_since, o.raised_at, o.closed_at).where(
            subject, o.kind == OrderKind.BREAKDOWN.value, o.raised_at >= window.start, o.raised_at < window.end
        )
    ).all()
    cost = conn.execute(
        select(func.coalesce(func.sum(o.cost), 0.0)).where(
            subject, o.closed_at.is_not(None), o.closed_at >= window.start, o.closed_at < window.end
        )
    ).scalar()
    return len(raised), [Repair(r.down_since or r.raised_at, r.closed_at) for r in raised], float(cost)


# -- machines that stay down ---------------------------------------------------------------------------------
def long_stops(conn: Connection, now: datetime, threshold: timedelta) -> list[tuple[str, datetime]]:
    """Machines whose latest state is ``down`` since at least ``threshold``: (machine, since) each."""
    me = machine_events.c
    latest = (
        select(me.machine_id, func.max(me.ts).label("ts"))
        .where(me.kind == "state", me.ts <= now)
        .group_by(me.machine_id)
        .subquery()
    )
    rows = conn.execute(
        select(me.machine_id, me.ts, me.state, me.id)
        .join(latest, and_(latest.c.machine_id == me.machine_id, latest.c.ts == me.ts))
        .where(me.kind == "state")
        .order_by(me.machine_id, me.id)
    ).all()
    last: dict[int, Any] = {}
    for r in rows:
        last[r.machine_id] = r  # of several events at one instant the last one holds
    codes = {mid: code for code, mid in machine_ids(conn).items()}
    out = []
    for mid, r in last.items():
        if r.state != MachineState.DOWN.value or mid not in codes:
            continue
        since = state_run_start(conn, mid, now) or r.ts
        if now - since >= threshold:
            out.append((codes[mid], since))
    return sorted(out)


def machine_summary(conn: Connection, plant: Plant, machine: str, now: datetime) -> dict[str, Any]:
    """What the board tile and the terminal show of a machine's maintenance: its plans (and those of the mould on
    it) that are due or overdue, its open breakdown request, and the mould mounted."""
    flagged = []
    for plan in plans(conn, machine):
        d = plan_due(conn, plant, plan, now)
        if d.state.value != "ok":
            flagged.append({"plan": plan.code, "name": plan.name, "mould": plan.mould, **d.to_dict()})
    return {
        "due": [p for p in flagged if p["state"] == "due"],
        "overdue": [p for p in flagged if p["state"] == "overdue"],
        "breakdown": open_breakdown(conn, machine),
        "mould": mounted_on(conn, machine),
    }


def reliability(
    conn: Connection,
    plant: Plant,
    window: Interval,
    machine: str | None,
    mould: str | None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """MTBF and MTTR (seconds) and maintenance cost of a machine or a mould over ``window``
    (``analytics.maintenance``): operating time is the APT of the machine, or of the machines the mould was on."""
    now = now or datetime.now(window.end.tzinfo)
    if machine is not None:
        if machine not in {m.code for m in plant.machines}:
            raise MachineUnknown(machine=machine)
        operating = kpi.machine_elements(conn, plant, machine, window, now).apt_s if window.start < now else 0.0
    else:
        mould_row(conn, mould)
        operating = mould_parts(conn, plant, mould, window.start, min(window.end, now))[1]
    failures, fixed, cost = repairs(conn, window, machine, mould)
    return {
        "machine": machine,
        "mould": mould,
        "start": window.start.isoformat(),
        "end": window.end.isoformat(),
        "operating_s": operating,
        "failures": failures,
        "mtbf_s": mtbf_s(operating, failures),
        "mttr_s": mttr_s(fixed),
        "cost": round(cost, 2),
    }
