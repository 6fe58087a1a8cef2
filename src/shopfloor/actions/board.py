"""What the live board shows for each machine: state and how long, product, the shift's counts and OEE.

A tile's figures are those of the shift so far (time after now is never counted); ``partial`` marks a machine
whose first event came during the shift, and a machine without any data has null figures, never zeros."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select

from shopfloor.analytics.kpi import report
from shopfloor.model.calendar import local_midnight
from shopfloor.model.intervals import Interval
from shopfloor.model.plant import Plant
from shopfloor.store import kpi as kpi_store
from shopfloor.store import lots as lot_store
from shopfloor.store import maintenance as maintenance_store
from shopfloor.store import rollups, work_orders
from shopfloor.store.plant import machine_ids
from shopfloor.store.schema import alarms, hourly_rollups, machine_events

STATE_COLOURS = {
    "running": "green",
    "idle": "amber",
    "setup": "blue",
    "down": "red",
    "planned_stop": "grey",
    "no_order": "grey",
    None: "grey",
}


def current_window(plant: Plant, now: datetime) -> tuple[str | None, Interval]:
    """The shift in progress (its label and start..now), else the local day so far."""
    tz = plant.site.tz
    for occ in plant.calendar.occurrences(tz, Interval(now - timedelta(seconds=1), now + timedelta(seconds=1))):
        if occ.span.start <= now < occ.span.end:
            return occ.name, Interval(occ.span.start, now)
    midnight = local_midnight(now.astimezone(tz).date(), tz)
    return None, Interval(midnight, max(now, midnight))


def machine_tiles(
    conn: Connection, plant: Plant, now: datetime, codes: list[str] | None = None
) -> list[dict[str, Any]]:
    ids = machine_ids(conn)
    shift, window = current_window(plant, now)
    # The shift's target so far: ideal output of its planned time up to now (breaks excluded), per machine.
    planned_s = sum(iv.seconds for iv in plant.calendar.planned(plant.site.tz, window)) if shift else 0.0
    me = machine_events.c
    out = []
    for m in plant.machines:
        if codes is not None and m.code not in codes:
            continue
        last_state = conn.execute(
            select(me.ts, me.state, me.reason)
            .where(me.machine_id == ids[m.code], me.kind == "state", me.ts <= now)
            .order_by(me.ts.desc(), me.id.desc())
            .limit(1)
        ).first()
        product = conn.execute(
            select(me.product)
            .where(me.machine_id == ids[m.code], me.kind != "state", me.product.is_not(None))
            .order_by(me.ts.desc(), me.id.desc())
            .limit(1)
        ).scalar()
        open_alarms = conn.execute(
            select(func.count())
            .select_from(alarms)
            .where(alarms.c.machine_id == ids[m.code], alarms.c.ack_at.is_(None))
        ).scalar()
        order = work_orders.running_on(conn, m.code)
        if order is not None:
            product = order.product
        cycle = plant.ideal_cycle(product, m.code)
        done = work_orders.progress(conn, order.code)["good"] if order is not None else None
        el, cover = kpi_store.measure(conn, plant, [m.code], window, now)
        figures = report(el, cover)
        state = last_state.state if last_state else None
        out.append(
            {
                "code": m.code,
                "name": m.name,
                "line": m.line,
                "state": state,
                "colour": STATE_COLOURS.get(state, "grey"),
                "reason": last_state.reason if last_state else None,
                "since": last_state.ts if last_state else None,
                "in_state_s": (now - last_state.ts).total_seconds() if last_state else None,
                "product": product,
                "order": order.code if order else None,
                "alarms": open_alarms,
                "order_quantity": order.quantity if order else None,
                # suspect lots of a recall the running order consumed: its output is made on hold
                "recall_hold": [h["lot"] for h in lot_store.order_holds_of(conn, order.code)] if order else [],
                "order_good": done,
                "target": int(planned_s // cycle) if cycle and shift else None,
                "shift": shift,
                **{
                    name: figures[name]
                    for name in ("gq", "sq", "rq", "pq", "availability", "effectiveness", "quality_ratio", "oee")
                },
                "coverage": figures["coverage"],
                "partial": figures["partial"],
                "since_data": cover.start,
                "maintenance": maintenance_store.machine_summary(conn, plant, m.code, now),
            }
        )
    return out


_COUNT_KINDS = ("good", "scrap", "rework")


def shift_counts(conn: Connection, plant: Plant, machine: str, now: datetime) -> dict[str, int]:
    """Good, scrap and rework units of a machine in the current shift (else today): the hours of it that are
    rolled up from their rollups, the rest (the hour in progress, a shift that starts within an hour) from the
    events, so that the cost does not grow with the units already counted in the shift."""
    return shift_counts_of(conn, plant, [machine], now)[machine]


def shift_counts_of(conn: Connection, plant: Plant, machines: list[str], now: datetime) -> dict[str, dict[str, int]]:
    """``shift_counts`` of several machines, read together: one statement for the rollup states, and for the
    machines whose rollups cover the same hours one for their rollups and one per span left to the events."""
    _, window = current_window(plant, now)
    ids = machine_ids(conn)
    mids = {m: ids[m] for m in machines}
    states = rollups.states(conn, list(mids.values()))
    groups: dict[tuple, tuple[rollups.Pieces, list[int]]] = {}
    for mid in mids.values():
        state = states.get(mid)
        pieces = rollups.cover(window, None if state is None else state.rolled, plant.site.tz, units=("hour",))
        key = (tuple(pieces.rolled.get("hour", [])), tuple(pieces.raw))
        groups.setdefault(key, (pieces, []))[1].append(mid)
    done = {mid: {"good": 0, "scrap": 0, "rework": 0} for mid in mids.values()}
    hr, me = hourly_rollups.c, machine_events.c
    for pieces, group in groups.values():
        hours = pieces.rolled.get("hour", [])
        if hours:
            rolled = conn.execute(
                select(hr.machine_id, *[func.coalesce(func.sum(hr[n]), 0) for n in ("gq", "sq", "rq")])
                .where(or_(*[and_(hr.machine_id.in_(group), hr.hour >= s.start, hr.hour < s.end) for s in hours]))
                .group_by(hr.machine_id)
            )
            for mid, gq, sq, rq in rolled:
                done[mid]["good"] += int(gq)
                done[mid]["scrap"] += int(sq)
                done[mid]["rework"] += int(rq)
        for span in pieces.raw:
            rows = conn.execute(
                select(me.machine_id, me.kind, func.coalesce(func.sum(me.quantity), 0))
                .where(me.machine_id.in_(group), me.kind.in_(_COUNT_KINDS), me.ts >= span.start, me.ts < span.end)
                .group_by(me.machine_id, me.kind)
            )
            for mid, kind, q in rows:
                done[mid][kind] += int(q)
    return {
        m: {"gq": done[mid]["good"], "sq": done[mid]["scrap"], "rq": done[mid]["rework"]} for m, mid in mids.items()
    }
