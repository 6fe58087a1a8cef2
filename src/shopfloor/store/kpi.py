"""KPI queries over the store: the coarsest rollups that cover each part of a window, raw events for the rest.

Both paths use ``analytics.kpi.compute_elements`` and sum elements before taking ratios, so a machine, a line and
a site, by hour, shift or day, are computed one way.  Every query takes ``now`` (the wall clock by default): time
after it is never counted, and each result comes with its ``Coverage``, the part of the window that had data.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import Connection

from shopfloor.analytics.kpi import Coverage, KpiElements, MachineHistory, PlannedTimeIndex, clip_to_now, coverage
from shopfloor.model.calendar import buckets
from shopfloor.model.intervals import Interval, merge
from shopfloor.model.plant import Plant
from shopfloor.store import rollups
from shopfloor.store.events import event_spans, history
from shopfloor.store.plant import StoreError, machine_ids

# The rollups a query may read, coarsest first.  Tests narrow it to ("hour",) to check that every path agrees.
COVER_UNITS: tuple[str, ...] = rollups.UNITS


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(timezone.utc)


def raw_elements(
    conn: Connection, plant: Plant, machine: str, window: Interval, now: datetime | None = None
) -> KpiElements:
    """Elements computed from the raw events (no rollups)."""
    window = clip_to_now(window, _now(now))
    if window.seconds <= 0:
        return KpiElements()
    states, counts = history(conn, machine, window)
    tz = plant.site.tz
    planned = PlannedTimeIndex(plant.calendar.planned(tz, window), window, lambda iv: plant.calendar.planned(tz, iv))
    return MachineHistory(states, counts).elements(window, planned, lambda p: plant.ideal_cycle(p, machine))


@dataclass(frozen=True, slots=True)
class _Machine:
    code: str
    id: int
    rolled: Interval | None
    first_event: datetime | None


def _machines(conn: Connection, codes: Sequence[str]) -> list[_Machine]:
    """The machines with their rolled-up span and first event, in two queries (plus one for the machines whose
    rollups have not been built yet)."""
    ids = machine_ids(conn)
    unknown = [c for c in codes if c not in ids]
    if unknown:
        raise StoreError(f"unknown machine {unknown[0]!r}")
    states = rollups.states(conn, [ids[c] for c in codes])
    unrolled = event_spans(conn, [ids[c] for c in codes if getattr(states.get(ids[c]), "first_event", None) is None])
    out = []
    for code in codes:
        mid = ids[code]
        state = states.get(mid)
        first = state.first_event if state is not None else None
        if first is None:
            span = unrolled[mid]
            first = span[0] if span is not None else None
        out.append(_Machine(code, mid, state.rolled if state is not None else None, first))
    return out


def _coverage(machines: Sequence[_Machine], window: Interval, now: datetime) -> Coverage:
    total = Coverage()
    for m in machines:
        total = total + coverage(window, m.first_event, now)
    return total


def _elements(
    conn: Connection, plant: Plant, machines: Sequence[_Machine], window: Interval, now: datetime
) -> KpiElements:
    window = clip_to_now(window, now)
    tz = plant.site.tz
    total = KpiElements()
    groups: dict[tuple, tuple[rollups.Pieces, list[int]]] = {}
    for m in machines:
        pieces = rollups.cover(window, m.rolled, tz, COVER_UNITS)
        for part in pieces.raw:
            total = total + raw_elements(conn, plant, m.code, part, now)
        if pieces.rolled:
            # Machines whose window is cut the same way are summed by one statement.
            key = tuple((unit, tuple(spans)) for unit, spans in pieces.rolled.items())
            groups.setdefault(key, (pieces, []))[1].append(m.id)
    for pieces, ids in groups.values():
        total = total + rollups.summed(conn, ids, pieces)
    return total


def measure(
    conn: Connection, plant: Plant, machines: Sequence[str], window: Interval, now: datetime | None = None
) -> tuple[KpiElements, Coverage]:
    """Summed elements of the machines over ``window`` (time-weighted by construction) and its coverage."""
    now = _now(now)
    chosen = _machines(conn, machines)
    return _elements(conn, plant, chosen, window, now), _coverage(chosen, window, now)


def elements(
    conn: Connection, plant: Plant, machines: list[str], window: Interval, now: datetime | None = None
) -> KpiElements:
    """Summed elements of several machines (a line or a site): time-weighted by construction."""
    return measure(conn, plant, machines, window, now)[0]


def machine_elements(
    conn: Connection, plant: Plant, machine: str, window: Interval, now: datetime | None = None
) -> KpiElements:
    return measure(conn, plant, [machine], window, now)[0]


def scope_machines(plant: Plant, machine: str | None = None, line: str | None = None, site: bool = False) -> list[str]:
    """Machine codes of one machine, one line or the whole site."""
    chosen = sum(1 for x in (machine, line) if x) + (1 if site else 0)
    if chosen != 1:
        raise StoreError("choose exactly one of --machine, --line or --site")
    if machine:
        try:
            return [plant.machine(machine).code]
        except KeyError:
            raise StoreError(
                f"unknown machine {machine!r}; known: {', '.join(m.code for m in plant.machines)}"
            ) from None
    if line:
        try:
            return [m.code for m in plant.line(line).machines]
        except KeyError:
            raise StoreError(f"unknown line {line!r}; known: {', '.join(ln.code for ln in plant.lines)}") from None
    return [m.code for m in plant.machines]


def measure_buckets(
    conn: Connection, plant: Plant, machines: list[str], window: Interval, by: str, now: datetime | None = None
) -> list[tuple[str, Interval, KpiElements, Coverage]]:
    """Elements and coverage per local hour, local day or shift; the buckets add up to the window.

    The parts of buckets that every machine has rolled up are summed from one grouped query per rollup unit
    (periods of all the machines summed per period); the other parts are computed like ``measure``.  Both give
    the same sums: ``measure`` adds the same rows."""
    now = _now(now)
    chosen = _machines(conn, machines)
    spans = buckets(plant.calendar, plant.site.tz, window, by)
    common = _common_rolled(chosen)
    tz = plant.site.tz
    planned = []
    needed: dict[str, list[Interval]] = {}
    for label, iv in spans:
        pieces = rollups.cover(clip_to_now(iv, now), common, tz, COVER_UNITS)
        planned.append((label, iv, pieces))
        for unit, ranges in pieces.rolled.items():
            needed.setdefault(unit, []).extend(ranges)
    ids = [m.id for m in chosen]
    rows = {unit: rollups.summed_by_period(conn, ids, unit, merge(ranges)) for unit, ranges in needed.items()}
    starts = {unit: sorted(by_start) for unit, by_start in rows.items()}
    out = []
    for label, iv, pieces in planned:
        total = KpiElements()
        for unit, ranges in pieces.rolled.items():
            keys = starts[unit]
            for span in ranges:
                i = bisect_left(keys, span.start)
                while i < len(keys) and keys[i] < span.end:
                    total = total + rows[unit][keys[i]]
                    i += 1
        for part in pieces.raw:
            total = total + _elements(conn, plant, chosen, part, now)
        out.append((label, iv, total, _coverage(chosen, iv, now)))
    return out


def bucketed(
    conn: Connection, plant: Plant, machines: list[str], window: Interval, by: str, now: datetime | None = None
) -> list[tuple[str, Interval, KpiElements]]:
    """Elements per local hour, local day or shift (``measure_buckets`` without the coverage)."""
    return [(label, iv, el) for label, iv, el, _ in measure_buckets(conn, plant, machines, window, by, now)]


def _common_rolled(machines: Sequence[_Machine]) -> Interval | None:
    """The time every one of the machines has rollups for, or None."""
    common: Interval | None = None
    for i, m in enumerate(machines):
        if m.rolled is None:
            return None
        common = m.rolled if i == 0 else common.intersect(m.rolled) if common is not None else None
        if common is None:
            return None
    return common
