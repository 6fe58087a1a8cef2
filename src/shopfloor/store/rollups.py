"""KPI rollups per machine, kept up to date as events arrive: UTC hours, and the plant's local days and months.

A rollup row holds the ISO 22400 elements (see ``analytics.kpi``) of one machine for one period.  Hours and local
days are computed by the same ``compute_elements`` that answers raw queries; a month is the sum of its days.
Elements are additive, so a rollup and a recomputation always agree, and a KPI query reads the coarsest rows
that cover each part of its window (``cover``).  Local days and months follow the plant's time zone: a day
across a daylight-saving change lasts 23 or 25 hours, and in a zone with a half-hour offset a day does not
begin on a UTC hour (the hours around it are read, and the half hour computed from the events).

A machine's rollups are complete for ``[valid_from, valid_until)``: an hour is rolled up once the machine has an
event at or after its end (before that its last state may still go on), a local day or month once it lies
wholly inside the rolled-up hours.  Rows exist for the periods in that range that have a non-zero element; an
absent period is all zeros.  An event that arrives late invalidates upward: the hours from its hour on, and the
days and months that end after that hour.

The state row of a machine (``rollup_state``) is created by an upsert and locked before it is read, so that
concurrent writers of one machine take turns on PostgreSQL instead of both finding it missing or both extending
the same hours (SQLite has one writer at a time anyway).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, and_, delete, func, insert, or_, select, union_all, update
from sqlalchemy.dialects import postgresql, sqlite

from shopfloor.analytics.kpi import KpiElements, MachineHistory, PlannedTimeIndex
from shopfloor.model.calendar import local_period
from shopfloor.model.intervals import Interval, hour_floor, hours, merge
from shopfloor.model.plant import Plant
from shopfloor.store.events import event_spans, history
from shopfloor.store.plant import machine_ids
from shopfloor.store.schema import ROLLUP_FIELDS, hourly_rollups, local_rollups, rollup_state

HOUR = timedelta(hours=1)
# The periods a window is read from, coarsest first.
UNITS = ("month", "day", "hour")


@dataclass(frozen=True, slots=True)
class RollupState:
    """What is rolled up for a machine: ``rolled`` = [valid_from, valid_until) (None: nothing yet), and the time
    of its first event (None: none seen by the rollups yet)."""

    rolled: Interval | None
    first_event: datetime | None


def _upsert_state(conn: Connection):
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(rollup_state).on_conflict_do_nothing(index_elements=["machine_id"])


def _locked_state(conn: Connection, mid: int) -> dict[str, Any]:
    """The machine's state row, created when missing and locked (``FOR UPDATE``) until the transaction ends.

    The upsert waits for a concurrent transaction that is creating the same row, and the row lock for one that is
    changing it, so the values read are the committed ones and stay so while this transaction uses them."""
    for _ in range(3):
        conn.execute(_upsert_state(conn).values(machine_id=mid))
        row = (
            conn.execute(select(rollup_state).where(rollup_state.c.machine_id == mid).with_for_update())
            .mappings()
            .first()
        )
        if row is not None:  # else a plant import deleted it between the two statements: create it again
            return dict(row)
    raise RuntimeError(f"the rollup state of machine {mid} keeps disappearing")


def _reset(conn: Connection, mid: int) -> None:
    """Forget every rollup of a machine (they are derived data, rebuilt from its events by ``refresh``)."""
    conn.execute(delete(hourly_rollups).where(hourly_rollups.c.machine_id == mid))
    conn.execute(delete(local_rollups).where(local_rollups.c.machine_id == mid))
    conn.execute(
        update(rollup_state)
        .where(rollup_state.c.machine_id == mid)
        .values(valid_from=None, valid_until=None, first_event=None)
    )


def invalidate(conn: Connection, earliest: dict[str, datetime]) -> None:
    """Drop rollups from the hour of each machine's earliest new event on (and the days and months that end
    after that hour)."""
    ids = machine_ids(conn)
    # State rows are locked in machine id order by every writer, so that two writers never wait on each other.
    for code, ts in sorted(earliest.items(), key=lambda item: ids[item[0]]):
        _invalidate_machine(conn, ids[code], ts, _locked_state(conn, ids[code]))


def _invalidate_machine(conn: Connection, mid: int, ts: datetime, state: dict[str, Any]) -> None:
    """``invalidate`` for one machine whose state row is locked (``state``, brought up to date here)."""
    ts = ts.astimezone(timezone.utc)
    if state["valid_from"] is None:
        return
    hour = hour_floor(ts)
    if hour < state["valid_from"]:
        _reset(conn, mid)
        state.update(valid_from=None, valid_until=None, first_event=None)
        return
    if state["first_event"] is None or ts < state["first_event"]:
        conn.execute(update(rollup_state).where(rollup_state.c.machine_id == mid).values(first_event=ts))
        state["first_event"] = ts
    if hour < state["valid_until"]:
        conn.execute(delete(hourly_rollups).where(hourly_rollups.c.machine_id == mid, hourly_rollups.c.hour >= hour))
        conn.execute(delete(local_rollups).where(local_rollups.c.machine_id == mid, local_rollups.c.period_end > hour))
        conn.execute(update(rollup_state).where(rollup_state.c.machine_id == mid).values(valid_until=hour))
        state["valid_until"] = hour


def bring_up_to_date(conn: Connection, plant: Plant, earliest: dict[str, datetime]) -> int:
    """``invalidate(conn, earliest)`` then ``refresh(conn, plant, sorted(earliest))``, with the state rows of all
    the machines created and locked by two statements instead of four per machine; returns the number of hours
    computed."""
    ids = machine_ids(conn)
    mids = sorted(ids[code] for code in earliest)
    if not mids:
        return 0
    code_of = {ids[code]: code for code in earliest}
    for _ in range(3):
        conn.execute(_upsert_state(conn).values([{"machine_id": mid} for mid in mids]))
        rows = conn.execute(
            select(rollup_state)
            .where(rollup_state.c.machine_id.in_(mids))
            .order_by(rollup_state.c.machine_id)
            .with_for_update()
        ).mappings()
        locked = {row["machine_id"]: dict(row) for row in rows}
        if len(locked) == len(mids):  # else a plant import deleted one between the two statements: again
            break
    else:
        raise RuntimeError("the rollup states of the machines keep disappearing")
    for mid in mids:  # in id order, as every writer locks them
        _invalidate_machine(conn, mid, earliest[code_of[mid]], locked[mid])
    spans = event_spans(conn, mids)
    return sum(_refresh_machine(conn, plant, code_of[mid], mid, spans[mid], locked[mid]) for mid in mids)


def refresh(conn: Connection, plant: Plant, machines: list[str] | None = None) -> int:
    """Roll up every complete hour, local day and month not rolled up yet; returns the number of hours computed."""
    ids = machine_ids(conn)
    codes = machines if machines is not None else [m.code for m in plant.machines]
    computed = 0
    spans = event_spans(conn, [ids[code] for code in codes])
    for code in sorted(codes, key=ids.__getitem__):  # in id order, as ``invalidate`` locks them
        computed += _refresh_machine(conn, plant, code, ids[code], spans[ids[code]])
    return computed


def _periods_ending_in(tz: ZoneInfo, after: datetime, until: datetime, unit: str, start_at: datetime) -> list[Interval]:
    """Local days or months that end in (after, until] and start at or after ``start_at``."""
    out = []
    span = local_period(after, tz, unit)
    while span.end <= until:
        if span.start >= start_at:
            out.append(span)
        span = local_period(span.end, tz, unit)
    return out


def _refresh_machine(
    conn: Connection,
    plant: Plant,
    code: str,
    mid: int,
    span: tuple[datetime, datetime] | None,
    state: dict[str, Any] | None = None,
) -> int:
    """``refresh`` for one machine, whose first and last events are ``span`` (``event_spans``); ``state``: its state
    row, locked by the caller already."""
    if span is None:
        return 0
    first, last = span
    state = state if state is not None else _locked_state(conn, mid)
    valid_from, valid_until = state["valid_from"], state["valid_until"]
    if valid_from is None:
        valid_from = valid_until = hour_floor(first.astimezone(timezone.utc))
        conn.execute(
            update(rollup_state)
            .where(rollup_state.c.machine_id == mid)
            .values(valid_from=valid_from, valid_until=valid_until, first_event=first)
        )
    target = hour_floor(last.astimezone(timezone.utc))
    if target <= valid_until:
        return 0
    tz = plant.site.tz
    days = _periods_ending_in(tz, valid_until, target, "day", valid_from)
    months = _periods_ending_in(tz, valid_until, target, "month", valid_from)
    window = Interval(min([valid_until, *(d.start for d in days)]), target)
    states, counts = history(conn, code, window)
    hist = MachineHistory(states, counts)
    planned = PlannedTimeIndex(plant.calendar.planned(tz, window), window, lambda iv: plant.calendar.planned(tz, iv))

    def ideal(product: str | None) -> float | None:
        return plant.ideal_cycle(product, code)

    rows: list[dict[str, Any]] = []
    for hour in hours(Interval(valid_until, target)):
        el = hist.elements(hour, planned, ideal)
        if el != KpiElements():
            rows.append({"machine_id": mid, "hour": hour.start, **el.to_dict()})
    for i in range(0, len(rows), 2000):
        conn.execute(insert(hourly_rollups), rows[i : i + 2000])
    day_rows = [_local_row(mid, "day", d, hist.elements(d, planned, ideal)) for d in days]
    _insert_local(conn, [r for r in day_rows if r is not None])
    # A month is the sum of its days: every day of it is rolled up now, and summing them reads no raw events.
    month_rows = [_local_row(mid, "month", m, summed(conn, [mid], Pieces({"day": [m]}))) for m in months]
    _insert_local(conn, [r for r in month_rows if r is not None])
    conn.execute(update(rollup_state).where(rollup_state.c.machine_id == mid).values(valid_until=target))
    return int((target - valid_until).total_seconds() // 3600)


def _local_row(mid: int, unit: str, span: Interval, el: KpiElements) -> dict[str, Any] | None:
    if el == KpiElements():
        return None
    return {"machine_id": mid, "unit": unit, "period_start": span.start, "period_end": span.end, **el.to_dict()}


def _insert_local(conn: Connection, rows: list[dict[str, Any]]) -> None:
    for i in range(0, len(rows), 2000):
        conn.execute(insert(local_rollups), rows[i : i + 2000])


def states(conn: Connection, machine_ids_: Sequence[int]) -> dict[int, RollupState]:
    """The rollup state of each machine (machines without one are left out), in one query."""
    rs = rollup_state.c
    out = {}
    for row in conn.execute(select(rollup_state).where(rs.machine_id.in_(list(machine_ids_)))).mappings():
        rolled = None
        if row["valid_from"] is not None and row["valid_until"] > row["valid_from"]:
            rolled = Interval(row["valid_from"], row["valid_until"])
        out[row["machine_id"]] = RollupState(rolled, row["first_event"])
    return out


def coverage(conn: Connection, machine_id: int) -> Interval | None:
    """The rolled-up span of one machine, or None."""
    state = states(conn, [machine_id]).get(machine_id)
    return None if state is None else state.rolled


# -- reading ------------------------------------------------------------------------------------------------
@dataclass
class Pieces:
    """A window cut into ranges of whole rollup periods (``rolled[unit]``) and the parts left to the raw events."""

    rolled: dict[str, list[Interval]] = field(default_factory=dict)
    raw: list[Interval] = field(default_factory=list)


def _utc(ts: datetime) -> datetime:
    return ts.astimezone(timezone.utc)


def _boundary_at_or_after(ts: datetime, tz: ZoneInfo, unit: str) -> datetime:
    if unit == "hour":
        floor = hour_floor(_utc(ts))
        return floor if floor == ts else floor + HOUR
    span = local_period(ts, tz, unit)
    return span.start if span.start == ts else span.end


def _boundary_at_or_before(ts: datetime, tz: ZoneInfo, unit: str) -> datetime:
    if unit == "hour":
        return hour_floor(_utc(ts))
    return local_period(ts, tz, unit).start


def cover(window: Interval, rolled: Interval | None, tz: ZoneInfo, units: Sequence[str] = UNITS) -> Pieces:
    """``window`` cut into the coarsest rolled-up periods that fit inside ``rolled`` (months, then days in what is
    left at either end, then hours), and the parts computed from raw events (outside ``rolled``, or not a
    whole hour)."""
    pieces = Pieces({unit: [] for unit in units})
    part = window.intersect(rolled) if rolled is not None else None
    if part is None:
        pieces.raw = [window] if window.seconds > 0 else []
        return pieces
    raw = [Interval(window.start, part.start), Interval(part.end, window.end)]

    def split(span: Interval, level: int) -> None:
        if level == len(units):
            raw.append(span)
            return
        unit = units[level]
        a = _boundary_at_or_after(span.start, tz, unit)
        b = _boundary_at_or_before(span.end, tz, unit)
        if a < b:
            pieces.rolled[unit].append(Interval(a, b))
            if span.start < a:
                split(Interval(span.start, a), level + 1)
            if b < span.end:
                split(Interval(b, span.end), level + 1)
        else:
            split(span, level + 1)

    split(part, 0)
    pieces.rolled = {unit: sorted(spans) for unit, spans in pieces.rolled.items() if spans}
    pieces.raw = merge(iv for iv in raw if iv.seconds > 0)
    return pieces


def _sums(columns: dict[str, Any]) -> list[Any]:
    return [func.coalesce(func.sum(columns[name]), 0) for name in ROLLUP_FIELDS]


def _elements(sums: Iterable[Any]) -> KpiElements:
    """KpiElements from SQL sums in ``ROLLUP_FIELDS`` order (time fields as float seconds, counts as int)."""
    return KpiElements(**{name: (float(v) if name.endswith("_s") else int(v)) for name, v in zip(ROLLUP_FIELDS, sums)})


def _hour_range(ids: list[int], span: Interval):
    hr = hourly_rollups.c
    return and_(hr.machine_id.in_(ids), hr.hour >= span.start, hr.hour < span.end)


def _local_range(ids: list[int], unit: str, span: Interval):
    lr = local_rollups.c
    return and_(lr.machine_id.in_(ids), lr.unit == unit, lr.period_start >= span.start, lr.period_end <= span.end)


def summed(conn: Connection, machine_ids_: list[int], pieces: Pieces) -> KpiElements:
    """Sum of the rollup rows of the given machines over the rolled-up ranges of ``pieces``, in one statement."""
    parts = []
    hour_spans = pieces.rolled.get("hour", [])
    if hour_spans:
        parts.append(select(*_sums(hourly_rollups.c)).where(or_(*[_hour_range(machine_ids_, s) for s in hour_spans])))
    local = [(unit, s) for unit in ("day", "month") for s in pieces.rolled.get(unit, [])]
    if local:
        parts.append(select(*_sums(local_rollups.c)).where(or_(*[_local_range(machine_ids_, u, s) for u, s in local])))
    if not parts:
        return KpiElements()
    statement = parts[0] if len(parts) == 1 else union_all(*parts)
    return KpiElements.sum(_elements(row) for row in conn.execute(statement))


def summed_by_period(
    conn: Connection, machine_ids_: list[int], unit: str, spans: list[Interval]
) -> dict[datetime, KpiElements]:
    """The machines' rollups of ``unit`` summed per period start over ``spans`` (periods with rows only)."""
    if not spans:
        return {}
    if unit == "hour":
        hr = hourly_rollups.c
        query = select(hr.hour, *_sums(hr)).where(or_(*[_hour_range(machine_ids_, s) for s in spans])).group_by(hr.hour)
    else:
        lr = local_rollups.c
        query = (
            select(lr.period_start, *_sums(lr))
            .where(or_(*[_local_range(machine_ids_, unit, s) for s in spans]))
            .group_by(lr.period_start)
        )
    return {r[0]: _elements(r[1:]) for r in conn.execute(query)}


def unit_rows(conn: Connection, machine_id: int, unit: str) -> dict[datetime, KpiElements]:
    """Every rollup row of ``unit`` of one machine, by period start (for checks and tests)."""
    if unit == "hour":
        hr = hourly_rollups.c
        query = select(hr.hour, *[hr[n] for n in ROLLUP_FIELDS]).where(hr.machine_id == machine_id)
    else:
        lr = local_rollups.c
        query = select(lr.period_start, *[lr[n] for n in ROLLUP_FIELDS]).where(
            lr.machine_id == machine_id, lr.unit == unit
        )
    return {r[0]: _elements(r[1:]) for r in conn.execute(query)}
