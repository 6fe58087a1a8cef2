"""KPI queries over a year of 50 machines: hourly rollups against a full recomputation from raw events.

Builds an SQLite store with a simulated year (three shifts, three kinds of shop) for 50 machines, then times
the site's yearly KPIs, one machine's yearly KPIs and one machine's daily KPIs for the year, each answered
from rollups and, as the baseline in the same run, recomputed from the raw events.
"""

from __future__ import annotations

import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from shopfloor.actions.demo import sample_plant
from shopfloor.analytics.kpi import KpiElements
from shopfloor.model.calendar import buckets
from shopfloor.model.intervals import Interval
from shopfloor.model.plant import Plant
from shopfloor.simulator.history import simulate_history
from shopfloor.store import kpi, rollups
from shopfloor.store.db import open_store
from shopfloor.store.events import append_events, count_events
from shopfloor.store.plant import save_plant


def plant_with(machines: int) -> Plant:
    """The sample plant with its lines grown to ``machines`` machines in total."""
    doc = sample_plant().to_dict()
    lines = [ln for area in doc["areas"] for ln in area["lines"]]
    for ln in lines:
        ln["machines"] = []
    for product in doc["products"]:
        product.pop("cycle_by_machine", None)
    for i in range(machines):
        ln = lines[i % len(lines)]
        ln["machines"].append({"code": f"{ln['code']}-{i + 1:03d}", "name": f"{ln['name']} #{i + 1}"})
    return Plant.from_dict(doc)


def _timed(fn, repeat: int = 3):
    best = float("inf")
    value = None
    for _ in range(repeat):
        t = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - t)
    return best, value


def run(quick: bool = False) -> list[dict]:
    machines, days = (6, 30) if quick else (50, 365)
    plant = plant_with(machines)
    start = datetime(2025, 12, 31, 15, tzinfo=timezone.utc)  # 2026-01-01 00:00 KST
    window = Interval(start, start + timedelta(days=days))
    with tempfile.TemporaryDirectory() as tmp:
        engine = open_store(str(Path(tmp) / "bench.db"))
        with engine.begin() as conn:
            save_plant(conn, plant, "bench")
        load_s = 0.0
        for i, machine in enumerate(plant.machines):
            events = simulate_history(plant, window, seed=i, machines=[machine.code])
            t = time.perf_counter()
            with engine.begin() as conn:
                result = append_events(conn, events)
                rollups.invalidate(conn, result.earliest)
                rollups.refresh(conn, plant, [machine.code])
            load_s += time.perf_counter() - t
        codes = [m.code for m in plant.machines]
        one_machine = codes[0]
        with engine.connect() as conn:
            total_events = count_events(conn)
            site_fast_s, site_fast = _timed(lambda: kpi.elements(conn, plant, codes, window))
            site_raw_s, site_raw = _timed(
                lambda: KpiElements.sum(kpi.raw_elements(conn, plant, c, window) for c in codes), repeat=1
            )
            m_fast_s, _ = _timed(lambda: kpi.machine_elements(conn, plant, one_machine, window))
            m_raw_s, _ = _timed(lambda: kpi.raw_elements(conn, plant, one_machine, window))
            days_list = buckets(plant.calendar, plant.site.tz, window, "day")
            d_fast_s, _ = _timed(lambda: [kpi.machine_elements(conn, plant, one_machine, iv) for _, iv in days_list], 1)
            d_raw_s, _ = _timed(lambda: [kpi.raw_elements(conn, plant, one_machine, iv) for _, iv in days_list], 1)
        engine.dispose()
    if abs(site_fast.apt_s - site_raw.apt_s) > 1e-3 or site_fast.gq != site_raw.gq:
        raise AssertionError("rollups and raw recomputation disagree")
    label = f"{machines} machines x {days} days, {total_events} events"
    return [
        {
            "name": f"site KPIs over the period ({label})",
            "value": site_fast_s,
            "unit": "s",
            "baseline": site_raw_s,
            "baseline_unit": "s (raw recompute)",
            "ratio": site_raw_s / site_fast_s,
        },
        {
            "name": "one machine over the period",
            "value": m_fast_s,
            "unit": "s",
            "baseline": m_raw_s,
            "baseline_unit": "s (raw recompute)",
            "ratio": m_raw_s / m_fast_s,
        },
        {
            "name": f"one machine by day ({len(days_list)} buckets)",
            "value": d_fast_s,
            "unit": "s",
            "baseline": d_raw_s,
            "baseline_unit": "s (raw recompute)",
            "ratio": d_raw_s / d_fast_s,
        },
        {
            "name": "load: events stored and rolled up per second",
            "value": total_events / load_s,
            "unit": "events/s",
            "baseline": load_s,
            "baseline_unit": "s total",
            "ratio": 1.0,
        },
    ]
