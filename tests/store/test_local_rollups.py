"""Day and month rollups are the plant's local days and months: 23- and 25-hour days across daylight saving.

A Berlin plant works around the clock (three 8-hour shifts, every day) and its one machine runs without a stop from
2026-03-01 00:00 to 2026-11-01 00:00 local time.  By hand: every hour of that span is planned busy time and
production time; Sunday 29 March 2026 (clocks go forward at 02:00) lasts 23 hours, Sunday 25 October (back at
03:00) 25 hours; March has 31 x 24 - 1 = 743 hours, October 31 x 24 + 1 = 745.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from shopfloor.actions.kpi_report import kpi_report
from shopfloor.model.calendar import local_days
from shopfloor.model.events import MachineState, StateChange
from shopfloor.model.plant import Plant
from shopfloor.store import rollups
from shopfloor.store.events import append_events
from shopfloor.store.plant import machine_ids, save_plant

pytestmark = pytest.mark.usefixtures("rollup_units")

BERLIN = ZoneInfo("Europe/Berlin")
HOUR = 3600
EVERY_DAY = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
PLANT = {
    "site": {"code": "B", "name": "Berlin", "timezone": "Europe/Berlin"},
    "areas": [{"code": "A", "lines": [{"code": "L", "machines": [{"code": "M"}]}]}],
    "products": [{"code": "P", "ideal_cycle_s": 10}],
    "calendar": {
        "shifts": [
            {"name": "Early", "start": "06:00", "end": "14:00", "days": EVERY_DAY},
            {"name": "Late", "start": "14:00", "end": "22:00", "days": EVERY_DAY},
            {"name": "Night", "start": "22:00", "end": "06:00", "days": EVERY_DAY},
        ]
    },
}


def local(month: int, day: int, hour: int = 0) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=BERLIN)


@pytest.fixture
def berlin(engine):
    plant = Plant.from_dict(PLANT)
    with engine.begin() as conn:
        save_plant(conn, plant, "test")
        append_events(
            conn,
            [StateChange(local(3, 1), "M", MachineState.RUNNING), StateChange(local(11, 1), "M", MachineState.IDLE)],
        )
        rollups.refresh(conn, plant)
    return engine, plant


def test_day_and_month_rows_are_local_with_23_and_25_hour_days(berlin):
    engine, plant = berlin
    with engine.connect() as conn:
        mid = machine_ids(conn)["M"]
        days = rollups.unit_rows(conn, mid, "day")
        months = rollups.unit_rows(conn, mid, "month")
    spring, autumn = (
        local_days(local(3, 29).date(), local(3, 30).date(), BERLIN),
        local_days(local(10, 25).date(), local(10, 26).date(), BERLIN),
    )
    assert spring.seconds == 23 * HOUR and autumn.seconds == 25 * HOUR
    assert days[spring.start].apt_s == days[spring.start].pbt_s == 23 * HOUR
    assert days[autumn.start].apt_s == days[autumn.start].pbt_s == 25 * HOUR
    assert len(days) == 245  # March 1 to October 31
    assert months[local(3, 1)].apt_s == 743 * HOUR and months[local(10, 1)].apt_s == 745 * HOUR
    assert sorted(m.astimezone(BERLIN).month for m in months) == list(range(3, 11))


def test_buckets_across_the_changes_add_up_to_the_window(berlin):
    engine, plant = berlin
    now = local(12, 1)
    with engine.connect() as conn:
        spring = kpi_report(conn, plant, local_days(local(3, 28).date(), local(3, 31).date(), BERLIN), machine="M",
                            by="day", now=now)  # fmt: skip
        night = kpi_report(conn, plant, local_days(local(10, 24).date(), local(10, 27).date(), BERLIN), machine="M",
                           by="shift", now=now)  # fmt: skip
        year = kpi_report(conn, plant, local_days(local(1, 1).date(), local(12, 31).date(), BERLIN), machine="M",
                          by="day", now=now)  # fmt: skip
    assert [b["apt_s"] for b in spring["buckets"]] == [24 * HOUR, 23 * HOUR, 24 * HOUR]
    assert spring["apt_s"] == 71 * HOUR
    nights = {b["bucket"]: b["apt_s"] for b in night["buckets"]}
    # The night of Saturday 24 to Sunday 25 October, 22:00-06:00 on the clock, lasts 9 hours.
    assert nights["2026-10-24/Night"] == 9 * HOUR and nights["2026-10-25/Night"] == 8 * HOUR
    assert sum(nights.values()) == night["apt_s"] == (3 * 24 + 1) * HOUR
    # The whole year: 1 March to 1 November, 245 days, one of 23 hours and one of 25, of running.
    assert year["apt_s"] == 245 * 24 * HOUR
    assert sum(b["apt_s"] or 0 for b in year["buckets"]) == year["apt_s"]
    assert year["coverage"]["from"] == "2026-02-28T23:00:00+00:00"  # 1 March 00:00 CET
