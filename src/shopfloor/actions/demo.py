"""Loading the demo: the sample plant and a simulated day of its machines into a store."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from importlib import resources
from typing import Any

import yaml
from sqlalchemy import Connection, Engine

from shopfloor.actions.demo_materials import has_lots, load_materials
from shopfloor.model.calendar import local_days
from shopfloor.model.intervals import Interval
from shopfloor.model.plant import Plant
from shopfloor.simulator.history import simulate_history
from shopfloor.store import accounts, attendance, audit, rollups, work_orders
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
    return local_days(day, day + timedelta(days=1), plant.site.tz)


DEMO_ACCOUNTS = (
    # username, role, password, PIN, badge, language
    ("admin", "admin", "admin-demo-1", None, None, None),
    ("manager", "manager", "manager-demo-1", None, None, None),
    ("quality", "quality", "quality-demo-1", None, None, None),
    ("supervisor", "supervisor", "supervisor-demo-1", None, None, None),
    ("kim", "operator", None, "1111", "OP-001", "ko"),
    ("nguyen", "operator", None, "2222", "OP-002", "vi"),
    ("smith", "operator", None, "3333", "OP-003", "en"),
)


def create_demo_accounts(engine: Engine) -> list[tuple[str, str, str]]:
    """One account per role (operators with a badge and PIN); returns (role, sign-in, secret) to print."""
    out = []
    with engine.begin() as conn:
        existing = {u.username for u in accounts.list_users(conn)}
        for username, role, password, pin, badge, lang in DEMO_ACCOUNTS:
            if username not in existing:
                accounts.create_user(conn, username, role, password=password, pin=pin, badge=badge, language=lang)
            out.append((role, badge or username, pin or password))
    return out


def demo_attendance(conn: Connection, plant: Plant, window: Interval) -> int:
    """The demo's people: one operator at each machine for each shift of ``window``, clocked in at its start and
    out at its end (the worker-hours of labour productivity); a machine already staffed then is left as it is."""
    added = 0
    operators = [u for u, role, *_ in DEMO_ACCOUNTS if role == "operator"]
    for n, occ in enumerate(plant.calendar.occurrences(plant.site.tz, window)):
        span = occ.span.intersect(window)
        if span is None:
            continue
        for i, m in enumerate(plant.machines):
            if not attendance.spans(conn, [m.code], span):
                who = f"{operators[(n + i) % len(operators)]}-{m.code}"
                attendance.add_stay(conn, who, m.code, span, "demo")
                added += 1
    return added


def load_history(engine: Engine, plant: Plant, window: Interval, seed: int) -> int:
    """Simulated events of every machine over ``window`` (rows already stored are skipped); counts made while a
    work order was in progress on their machine are attributed to it; an operator clocked in at each machine for
    each shift."""
    events = simulate_history(plant, window, seed)
    with engine.begin() as conn:
        demo_attendance(conn, plant, window)
        result = append_events(conn, work_orders.attribute(conn, events))
        rollups.invalidate(conn, result.earliest)
        rollups.refresh(conn, plant)
    return result.inserted


def load_demo(engine: Engine, seed: int = 7, day: date | None = None) -> dict[str, Any]:
    plant = sample_plant()
    day = day or last_working_day(plant, datetime.now(plant.site.tz).date())
    window = _local_day(plant, day)
    events = simulate_history(plant, window, seed)
    actor = "demo"
    with engine.begin() as conn:
        save_plant(conn, plant, actor)
        plant = load_plant(conn, plant.site.code)
        if not has_lots(conn):
            load_materials(conn, plant, window.start + timedelta(hours=6))
        result = append_events(conn, work_orders.attribute(conn, events))
        demo_attendance(conn, plant, window)
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
