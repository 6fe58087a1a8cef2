"""KPI queries over the store: rollups for whole rolled-up hours, raw events for the rest.

Both paths use ``analytics.kpi.compute_elements`` and sum elements before taking ratios, so a machine, a
line and a site, by hour, shift or day, are computed one way.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection

from shopfloor.analytics.kpi import KpiElements, MachineHistory, PlannedTimeIndex
from shopfloor.model.calendar import buckets
from shopfloor.model.intervals import Interval, hour_floor
from shopfloor.model.plant import Plant
from shopfloor.store import rollups
from shopfloor.store.events import history
from shopfloor.store.plant import StoreError, machine_ids

HOUR = timedelta(hours=1)


def raw_elements(
    conn: Connection, plant: Plant, machine: str, window: Interval, now: datetime | None = None
) -> KpiElements:
    """Elements computed from the raw events (no rollups)."""
    states, counts = history(conn, machine, window)
    tz = plant.site.tz
    planned = PlannedTimeIndex(plant.calendar.planned(tz, window), window, lambda iv: plant.calendar.planned(tz, iv))
    return MachineHistory(states, counts).elements(window, planned, lambda p: plant.ideal_cycle(p, machine), now)


def _split(window: Interval, covered: Interval | None) -> tuple[Interval | None, list[Interval]]:
    """The whole-hour part of ``window`` inside ``covered`` and the parts outside it."""
    if covered is None:
        return None, [window]
    start = hour_floor(window.start)
    if start < window.start:
        start += HOUR
    start = max(start, covered.start)
    end = min(hour_floor(window.end), covered.end)
    if end <= start:
        return None, [window]
    rest = [iv for iv in (Interval(window.start, start), Interval(end, window.end)) if iv.seconds > 0]
    return Interval(start, end), rest


def machine_elements(
    conn: Connection, plant: Plant, machine: str, window: Interval, now: datetime | None = None
) -> KpiElements:
    ids = machine_ids(conn)
    if machine not in ids:
        raise StoreError(f"unknown machine {machine!r}")
    rolled, rest = _split(window, rollups.coverage(conn, ids[machine]))
    total = KpiElements()
    if rolled is not None:
        total = total + rollups.summed(conn, [ids[machine]], rolled)
    for part in rest:
        total = total + raw_elements(conn, plant, machine, part, now)
    return total


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


def elements(
    conn: Connection, plant: Plant, machines: list[str], window: Interval, now: datetime | None = None
) -> KpiElements:
    """Summed elements of several machines (a line or a site): time-weighted by construction."""
    return KpiElements.sum(machine_elements(conn, plant, m, window, now) for m in machines)


def bucketed(
    conn: Connection, plant: Plant, machines: list[str], window: Interval, by: str, now: datetime | None = None
) -> list[tuple[str, Interval, KpiElements]]:
    """Elements per local hour, local day or shift.

    Buckets made of whole hours inside every machine's rollup coverage are summed from one query of the
    hourly rollups of all the machines (grouped by hour); the others are computed like ``elements``.  Both give
    the same sums: the rolled-up path of ``machine_elements`` adds the same rows."""
    ids = machine_ids(conn)
    unknown = [m for m in machines if m not in ids]
    if unknown:
        raise StoreError(f"unknown machine {unknown[0]!r}")
    spans = buckets(plant.calendar, plant.site.tz, window, by)
    wanted = [ids[m] for m in machines]
    common = _common_coverage(conn, wanted)
    hourly = rollups.summed_by_hour(conn, wanted, common) if common is not None and len(spans) > 4 else None
    out = []
    for label, iv in spans:
        whole = hour_floor(iv.start) == iv.start and hour_floor(iv.end) == iv.end
        if hourly is not None and whole and common.start <= iv.start and iv.end <= common.end:
            total, hour = KpiElements(), iv.start
            while hour < iv.end:
                row = hourly.get(hour)
                if row is not None:
                    total = total + row
                hour += HOUR
            out.append((label, iv, total))
        else:
            out.append((label, iv, elements(conn, plant, machines, iv, now)))
    return out


def _common_coverage(conn: Connection, ids: list[int]) -> Interval | None:
    """The time every one of the machines has rollups for, or None."""
    start = end = None
    for machine_id in ids:
        cov = rollups.coverage(conn, machine_id)
        if cov is None:
            return None
        start = cov.start if start is None else max(start, cov.start)
        end = cov.end if end is None else min(end, cov.end)
    if start is None or end is None or end <= start:
        return None
    return Interval(start, end)
