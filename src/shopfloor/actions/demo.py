"""Loading the demo: the sample plant and a simulated day of its machines into a store."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from importlib import resources
from typing import Any

import yaml
from sqlalchemy import Engine

from shopfloor.model.intervals import Interval
from shopfloor.model.plant import Plant
from shopfloor.simulator.history import simulate_history
from shopfloor.store import audit, rollups
from shopfloor.store.events import append_events
from shopfloor.store.plant import load_plant, save_plant


def sample_plant() -> Plant:
    text = resources.files("shopfloor.data").joinpath("sample_plant.yaml").read_text(encoding="utf-8")
    return Plant.from_dict(yaml.safe_load(text))


def last_working_day(plant: Plant, today: date) -> date:
    """The latest day before ``today`` on which the plant works (a Day shift is scheduled)."""
    day = today - timedelta(days=1)
    while True:
        occ = plant.calendar.occurrences(plant.site.tz, _local_day(plant, day))
        if any(o.day == day for o in occ):
            return day
        day -= timedelta(days=1)


def _local_day(plant: Plant, day: date) -> Interval:
    tz = plant.site.tz
    start = datetime.combine(day, time(0), tzinfo=tz).astimezone(timezone.utc)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(timezone.utc)
    return Interval(start, end)


def load_demo(engine: Engine, seed: int = 7, day: date | None = None) -> dict[str, Any]:
    plant = sample_plant()
    day = day or last_working_day(plant, datetime.now(plant.site.tz).date())
    window = _local_day(plant, day)
    events = simulate_history(plant, window, seed)
    actor = "demo"
    with engine.begin() as conn:
        save_plant(conn, plant, actor)
        plant = load_plant(conn, plant.site.code)
        result = append_events(conn, events)
        rollups.invalidate(conn, result.earliest)
        rollups.refresh(conn, plant)
        audit.record(
            conn, actor, "demo.load", f"site:{plant.site.code}", {"day": day.isoformat(), "inserted": result.inserted}
        )
    return {
        "site": plant.site.code,
        "timezone": plant.site.timezone,
        "day": day.isoformat(),
        "next_day": (day + timedelta(days=1)).isoformat(),
        "events": len(events),
        "lines": [ln.code for ln in plant.lines],
    }
