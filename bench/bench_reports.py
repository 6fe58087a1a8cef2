"""Reports over a year of 50 machines: the improvement report (first half of the year against the second, every
KPI with its daily values and tests) rendered to PDF, and a day's production report of the plant to PDF, each
against the time of the same KPI queries alone (the periods' elements and the daily buckets), in the same run.
"""

from __future__ import annotations

import tempfile
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from bench.bench_kpi_rollups import plant_with
from bench.timing import best_of
from shopfloor.actions.improvement_report import improvement_pdf, improvement_report
from shopfloor.actions.production_report import production_report, report_pdf, report_window
from shopfloor.model.intervals import Interval
from shopfloor.simulator.history import simulate_history
from shopfloor.store import kpi, rollups
from shopfloor.store.db import open_store
from shopfloor.store.events import append_events, count_events
from shopfloor.store.plant import save_plant


def run(quick: bool = False) -> list[dict]:
    machines, days = (6, 28) if quick else (50, 364)
    plant = plant_with(machines)
    start = datetime(2025, 12, 31, 15, tzinfo=timezone.utc)  # 2026-01-01 00:00 KST
    half = timedelta(days=days // 2)
    baseline, after = Interval(start, start + half), Interval(start + half, start + 2 * half)
    with tempfile.TemporaryDirectory() as tmp:
        engine = open_store(str(Path(tmp) / "bench.db"))
        with engine.begin() as conn:
            save_plant(conn, plant, "bench")
        for i, machine in enumerate(plant.machines):
            events = simulate_history(plant, Interval(start, start + 2 * half), seed=i, machines=[machine.code])
            with engine.begin() as conn:
                result = append_events(conn, events)
                rollups.invalidate(conn, result.earliest)
                rollups.refresh(conn, plant, [machine.code])
        codes = [m.code for m in plant.machines]
        day = date(2026, 3, 4)
        with engine.connect() as conn:
            total_events = count_events(conn)

            def queries_alone() -> None:
                for window in (baseline, after):
                    kpi.elements(conn, plant, codes, window)
                    kpi.bucketed(conn, plant, codes, window, "day")

            def improvement() -> bytes:
                return improvement_pdf(improvement_report(conn, plant, baseline, after))

            def day_queries() -> None:
                window = report_window(plant, day)
                kpi.elements(conn, plant, codes, window)
                kpi.bucketed(conn, plant, codes, window, "shift")
                for code in codes:
                    kpi.elements(conn, plant, [code], window)

            def day_report() -> bytes:
                return report_pdf(production_report(conn, plant, report_window(plant, day)))

            q_s, r_s = best_of(queries_alone), best_of(improvement, repeat=1)
            dq_s, dr_s = best_of(day_queries), best_of(day_report)
        engine.dispose()
    label = f"{machines} machines x {days} days, {total_events} events"
    return [
        {
            "name": f"improvement report, half year against half year, to PDF ({label})",
            "value": r_s,
            "unit": "s",
            "baseline": q_s,
            "baseline_unit": "s of its KPI queries alone",
            "ratio": r_s / q_s,
        },
        {
            "name": f"daily production report of the plant to PDF ({label})",
            "value": dr_s,
            "unit": "s",
            "baseline": dq_s,
            "baseline_unit": "s of its KPI queries alone",
            "ratio": dr_s / dq_s,
        },
    ]
