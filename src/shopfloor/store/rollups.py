"""Hourly KPI rollups per machine, kept up to date as events arrive.

A rollup row holds the ISO 22400 elements (see ``analytics.kpi``) of one machine for one UTC hour, computed by
the same ``compute_elements`` that answers raw queries, so a rollup and a recomputation always agree.  Rows
exist for every hour of ``[valid_from, valid_until)`` that has a non-zero element; an absent hour in that range
is all zeros.  An hour is rolled up once the machine has an event at or after its end (before that its last
state may still go on).  An event that arrives late invalidates the rollups from its hour on.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from shopfloor.analytics.kpi import KpiElements, MachineHistory, PlannedTimeIndex
from shopfloor.model.intervals import Interval, hour_floor, hours
from shopfloor.model.plant import Plant
from shopfloor.store.events import event_span, history
from shopfloor.store.plant import machine_ids
from shopfloor.store.schema import ROLLUP_FIELDS, hourly_rollups, rollup_state

HOUR = timedelta(hours=1)


def invalidate(conn: Connection, earliest: dict[str, datetime]) -> None:
    """Drop rollups from the hour of each machine's earliest new event on."""
    ids = machine_ids(conn)
    for code, ts in earliest.items():
        mid = ids[code]
        hour = hour_floor(ts.astimezone(timezone.utc))
        state = conn.execute(select(rollup_state).where(rollup_state.c.machine_id == mid)).mappings().first()
        if state is None:
            continue
        if state["valid_from"] is None or hour < state["valid_from"]:
            conn.execute(delete(hourly_rollups).where(hourly_rollups.c.machine_id == mid))
            conn.execute(delete(rollup_state).where(rollup_state.c.machine_id == mid))
        elif hour < state["valid_until"]:
            conn.execute(
                delete(hourly_rollups).where(hourly_rollups.c.machine_id == mid, hourly_rollups.c.hour >= hour)
            )
            conn.execute(update(rollup_state).where(rollup_state.c.machine_id == mid).values(valid_until=hour))


def refresh(conn: Connection, plant: Plant, machines: list[str] | None = None) -> int:
    """Roll up every complete hour not rolled up yet; returns the number of hours computed."""
    ids = machine_ids(conn)
    codes = machines if machines is not None else [m.code for m in plant.machines]
    computed = 0
    for code in codes:
        computed += _refresh_machine(conn, plant, code, ids[code])
    return computed


def _refresh_machine(conn: Connection, plant: Plant, code: str, mid: int) -> int:
    span = event_span(conn, mid)
    if span is None:
        return 0
    first, last = span
    state = conn.execute(select(rollup_state).where(rollup_state.c.machine_id == mid)).mappings().first()
    if state is None:
        valid_from = valid_until = hour_floor(first)
        conn.execute(insert(rollup_state).values(machine_id=mid, valid_from=valid_from, valid_until=valid_until))
    else:
        valid_from, valid_until = state["valid_from"], state["valid_until"]
    target = hour_floor(last)
    if target <= valid_until:
        return 0
    window = Interval(valid_until, target)
    states, counts = history(conn, code, window)
    hist = MachineHistory(states, counts)
    tz = plant.site.tz
    planned = PlannedTimeIndex(plant.calendar.planned(tz, window), window, lambda iv: plant.calendar.planned(tz, iv))
    rows: list[dict[str, Any]] = []
    for hour in hours(window):
        el = hist.elements(hour, planned, lambda p: plant.ideal_cycle(p, code))
        if el != KpiElements():
            rows.append({"machine_id": mid, "hour": hour.start, **el.to_dict()})
    for i in range(0, len(rows), 2000):
        conn.execute(insert(hourly_rollups), rows[i : i + 2000])
    conn.execute(update(rollup_state).where(rollup_state.c.machine_id == mid).values(valid_until=target))
    return int(window.seconds // 3600)


def coverage(conn: Connection, machine_id: int) -> Interval | None:
    row = conn.execute(select(rollup_state).where(rollup_state.c.machine_id == machine_id)).mappings().first()
    if row is None or row["valid_from"] is None or row["valid_until"] <= row["valid_from"]:
        return None
    return Interval(row["valid_from"], row["valid_until"])


def _elements(sums) -> KpiElements:
    """KpiElements from SQL sums in ``ROLLUP_FIELDS`` order (time fields as float seconds, counts as int)."""
    return KpiElements(**{name: (float(v) if name.endswith("_s") else int(v)) for name, v in zip(ROLLUP_FIELDS, sums)})


def summed(conn: Connection, machine_ids_: list[int], window: Interval) -> KpiElements:
    """Sum of rollup rows of the given machines over whole hours of ``window``."""
    hr = hourly_rollups.c
    row = conn.execute(
        select(*[func.coalesce(func.sum(hr[name]), 0) for name in ROLLUP_FIELDS]).where(
            hr.machine_id.in_(machine_ids_), hr.hour >= window.start, hr.hour < window.end
        )
    ).first()
    return _elements(row)


def summed_by_hour(conn: Connection, machine_ids_: list[int], window: Interval) -> dict[datetime, KpiElements]:
    """:func:`summed` hour by hour: the machines' rollups summed per hour over ``window`` (hours with rows only)."""
    hr = hourly_rollups.c
    rows = conn.execute(
        select(hr.hour, *[func.sum(hr[name]) for name in ROLLUP_FIELDS])
        .where(hr.machine_id.in_(machine_ids_), hr.hour >= window.start, hr.hour < window.end)
        .group_by(hr.hour)
    ).all()
    return {r[0]: _elements(r[1:]) for r in rows}


def rows_in(conn: Connection, machine_id: int, window: Interval) -> dict[datetime, KpiElements]:
    hr = hourly_rollups.c
    out = {}
    for r in conn.execute(
        select(hourly_rollups).where(hr.machine_id == machine_id, hr.hour >= window.start, hr.hour < window.end)
    ).mappings():
        out[r["hour"]] = KpiElements(**{name: r[name] for name in ROLLUP_FIELDS})
    return out
