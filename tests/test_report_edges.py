"""Edges of the daily report, computed by hand, on SQLite and PostgreSQL.

One machine M1, products P (ideal cycle 60 s) and Q (120 s); a Day shift 06:00-14:00 and a Night shift
22:00-06:00 every day; site in UTC.  M1 runs from Sunday 1 March 22:00 to Tuesday 3 March 06:00: on Monday 2 March
it makes 100 P at 03:00 (the night shift begun on Sunday), 400 P at 10:00 (Day) and 50 Q at 23:00 (Monday's night).

By hand, the report of Monday 2 March (00:00-24:00):
- its shift buckets: Night 00:00-06:00 (a fragment: the shift runs 22:00-06:00), Day 06:00-14:00 (whole),
  Night 22:00-24:00 (a fragment);
- capacity at ideal rate, bucket by bucket at the cycle of what each made: 6 h x 3,600 / 60 = 360 P,
  8 h x 3,600 / 60 = 480 P, the overtime 14:00-22:00 (running outside any shift is planned busy time, ISO 22400)
  with no count priced at the day's most-made product P: 480, and 2 h x 3,600 / 120 = 60 Q: 1,380 (all of it
  priced at P, it was 24 h x 60 = 1,440); the Day shift's own report: 480, as in the day's.
"""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from shopfloor.actions.production_report import production_report, report_window
from shopfloor.model.events import CountEvent, CountKind, MachineState, StateChange
from shopfloor.model.plant import Plant
from shopfloor.store.events import append_events
from shopfloor.store.plant import load_plant, save_plant

ALL = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
PLANT = {
    "site": {"code": "S", "name": "Edges", "timezone": "UTC"},
    "areas": [{"code": "A", "lines": [{"code": "L", "machines": [{"code": "M1"}]}]}],
    "products": [{"code": "P", "ideal_cycle_s": 60}, {"code": "Q", "ideal_cycle_s": 120}],
    "calendar": {"shifts": [{"name": "Day", "start": "06:00", "end": "14:00", "days": ALL},
                            {"name": "Night", "start": "22:00", "end": "06:00", "days": ALL}]},
}  # fmt: skip


def at(day: int, h: int) -> datetime:
    return datetime(2026, 3, day, h, tzinfo=timezone.utc)


@pytest.fixture
def plant_day(engine):
    with engine.begin() as conn:
        save_plant(conn, Plant.from_dict(PLANT), "t")
        append_events(conn, [
            StateChange(at(1, 22), "M1", MachineState.RUNNING),
            CountEvent(at(2, 3), "M1", CountKind.GOOD, 100, product="P"),
            CountEvent(at(2, 10), "M1", CountKind.GOOD, 400, product="P"),
            CountEvent(at(2, 23), "M1", CountKind.GOOD, 50, product="Q"),
            StateChange(at(3, 6), "M1", MachineState.IDLE),
        ])  # fmt: skip
        return engine, load_plant(conn)


def test_daily_capacity_is_the_sum_of_its_shifts_each_at_its_products_cycle(plant_day):
    engine, plant = plant_day
    with engine.connect() as conn:
        day = production_report(conn, plant, report_window(plant, date(2026, 3, 2)), now=at(4, 0))
        shift = production_report(conn, plant, report_window(plant, date(2026, 3, 2), "Day"), now=at(4, 0))
    assert day["plan"]["capacity_qty"] == 1380
    assert shift["plan"]["capacity_qty"] == 480


def test_night_shift_fragments_cut_at_midnight_are_shown_as_fragments(plant_day):
    engine, plant = plant_day
    with engine.connect() as conn:
        day = production_report(conn, plant, report_window(plant, date(2026, 3, 2)), now=at(4, 0))
    shown = [(s["from"][11:16], s["to"][11:16], s["fragment"], s.get("part")) for s in day["shifts"]]
    assert shown == [("00:00", "06:00", True, "00:00–06:00"), ("06:00", "14:00", False, None),
                     ("22:00", "00:00", True, "22:00–00:00")]  # fmt: skip
