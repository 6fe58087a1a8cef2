"""Windows that reach past the data, on SQLite and PostgreSQL, read from hourly and from coarse rollups.

A two-machine line in Seoul works one Day shift (08:00-17:00, lunch 12:00-13:00: 8 h of planned time) on
weekdays.  Every weekday each machine runs 08:00-10:00, is down 10:00-10:30, runs 10:30-12:00, idles through
lunch, runs 13:00-17:00 and idles from 17:00; at 16:00 it reports 100 good and 2 scrap.  Per weekday, by hand:
PBT 8 h, APT 2 + 1.5 + 4 = 7.5 h, ADET 0.5 h, one failure, GQ 100, SQ 2.

M1 works from Monday 2026-02-02 to Friday 2026-04-10, M2 from Wednesday 2026-03-25 to 2026-04-10.  Unless a
test says otherwise, "now" is Wednesday 2026-04-08 10:00 KST, so the store holds events after now (Apr 8 10:00
to Apr 10), as it does when a device's clock runs ahead.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from shopfloor.actions.board import machine_tiles
from shopfloor.actions.hub_share import month_window, monthly_kpis
from shopfloor.actions.improvement_report import improvement_report, period
from shopfloor.actions.kpi_report import kpi_report
from shopfloor.actions.production_report import production_report, report_window
from shopfloor.errors import MonthWithoutData
from shopfloor.model.events import CountEvent, CountKind, MachineState, StateChange
from shopfloor.model.intervals import Interval
from shopfloor.model.plant import Plant
from shopfloor.store import kpi, rollups
from shopfloor.store.events import append_events
from shopfloor.store.plant import machine_ids, save_plant

pytestmark = pytest.mark.usefixtures("rollup_units")

SEOUL = ZoneInfo("Asia/Seoul")
HOUR = 3600
PLANT = {
    "site": {"code": "S", "name": "Seoul works", "timezone": "Asia/Seoul"},
    "areas": [{"code": "A", "lines": [{"code": "L", "machines": [{"code": "M1"}, {"code": "M2"}]}]}],
    "products": [{"code": "P", "ideal_cycle_s": 200}],
    "calendar": {
        "shifts": [{"name": "Day", "start": "08:00", "end": "17:00", "breaks": [{"start": "12:00", "end": "13:00"}]}]
    },
}
NOW = datetime(2026, 4, 8, 10, tzinfo=SEOUL)


def kst(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SEOUL)


def _weekday_events(machine: str, day: date) -> list:
    at = lambda h, m=0: datetime(day.year, day.month, day.day, h, m, tzinfo=SEOUL)  # noqa: E731
    return [
        StateChange(at(8), machine, MachineState.RUNNING),
        StateChange(at(10), machine, MachineState.DOWN, "JAM"),
        StateChange(at(10, 30), machine, MachineState.RUNNING),
        StateChange(at(12), machine, MachineState.IDLE),
        StateChange(at(13), machine, MachineState.RUNNING),
        CountEvent(at(16), machine, CountKind.GOOD, 100, "P"),
        CountEvent(at(16), machine, CountKind.SCRAP, 2, "P", "BURR"),
        StateChange(at(17), machine, MachineState.IDLE),
    ]


def _events(machine: str, first: date, last: date) -> list:
    out, day = [], first
    while day <= last:
        if day.weekday() < 5:
            out += _weekday_events(machine, day)
        day += timedelta(days=1)
    return out


@pytest.fixture
def line(engine):
    plant = Plant.from_dict(PLANT)
    with engine.begin() as conn:
        save_plant(conn, plant, "test")
    # Stored a week at a time, each followed by the rollup refresh, as a running plant stores them.
    events = sorted(
        _events("M1", date(2026, 2, 2), date(2026, 4, 10)) + _events("M2", date(2026, 3, 25), date(2026, 4, 10)),
        key=lambda e: e.ts,
    )
    for i in range(0, len(events), 40):
        with engine.begin() as conn:
            result = append_events(conn, events[i : i + 40])
            rollups.invalidate(conn, result.earliest)
            rollups.refresh(conn, plant)
    return engine, plant


def test_march_is_read_from_a_month_rollup_where_coarse_rollups_are_on(line, rollup_units):
    engine, plant = line
    march = month_window(plant, "2026-03")
    with engine.connect() as conn:
        m1_id = machine_ids(conn)["M1"]
        m1 = rollups.states(conn, [m1_id])[m1_id]
        pieces = rollups.cover(march, m1.rolled, plant.site.tz, kpi.COVER_UNITS)
    if rollup_units == "coarse":
        assert pieces.rolled == {"month": [march]} and pieces.raw == []
    else:
        assert list(pieces.rolled) == ["hour"] and pieces.raw == []


def test_a_month_whose_history_starts_on_the_25th_reports_the_measured_operating_rate(line):
    engine, plant = line
    march = month_window(plant, "2026-03")
    with engine.connect() as conn:
        m2 = kpi_report(conn, plant, march, machine="M2", now=NOW)
        both = kpi_report(conn, plant, march, line="L", now=NOW)
    # M2 by hand: weekdays 25, 26, 27, 30, 31 = 5 days of data: known PBT 40 h, APT 37.5 h.  The 17 weekdays of
    # March before the 25th (2-6, 9-13, 16-20, 23, 24) are 136 h of PBT of unknown state.
    assert m2["pbt_s"] == (136 + 40) * HOUR and m2["unknown_s"] == 136 * HOUR
    assert m2["apt_s"] == pytest.approx(37.5 * HOUR) and m2["adet_s"] == pytest.approx(2.5 * HOUR)
    # Operating rate 37.5 / 40 = 0.9375, not 37.5 / 176 = 0.213 (the unmeasured 136 h are no loss).
    assert m2["operating_rate"] == pytest.approx(0.9375)
    assert m2["output_per_hour"] == pytest.approx(500 / 40)
    # Covered: 2026-03-25 08:00 to April 1 00:00 = 6 d 16 h = 160 h of the month's 744 h.
    assert m2["partial"] is True
    assert m2["coverage"] == {
        "from": "2026-03-24T23:00:00+00:00",
        "to": "2026-03-31T15:00:00+00:00",
        "fraction": pytest.approx(160 / 744, abs=1e-6),
    }
    # The line: M1 worked all 22 weekdays (PBT 176 h, APT 165 h) -> (165 + 37.5) / (176 + 40) = 0.9375.
    assert both["apt_s"] == pytest.approx(202.5 * HOUR)
    assert both["operating_rate"] == pytest.approx(202.5 / 216)
    assert both["ppm"] == pytest.approx((44 + 10) / (2244 + 510) * 1e6)
    assert both["coverage"]["fraction"] == pytest.approx((744 + 160) / (2 * 744), abs=1e-6)


def test_the_current_month_stops_at_now_and_is_marked_partial(line):
    engine, plant = line
    april = month_window(plant, "2026-04")
    with engine.connect() as conn:
        whole = kpi_report(conn, plant, april, line="L", now=NOW)
        clipped = kpi_report(conn, plant, Interval(april.start, NOW), line="L", now=NOW)
    # Per machine by hand: April 1, 2, 3, 6, 7 are whole days (PBT 40 h, APT 37.5 h, 5 failures, GQ 500, SQ 10);
    # April 8 until now (10:00) is 2 h of PBT, all running; its breakdown at 10:00 and the events after now
    # (April 8 10:00 to April 10) are not counted.
    assert whole["pbt_s"] == 2 * 42 * HOUR
    assert whole["apt_s"] == pytest.approx(2 * 39.5 * HOUR)
    assert (whole["failures"], whole["gq"], whole["sq"]) == (10, 1000, 20)
    assert whole["operating_rate"] == pytest.approx(79 / 84)
    assert whole["output_per_hour"] == pytest.approx(1000 / 84)
    # Covered: April 1 00:00 to April 8 10:00 = 178 h of the 720 h of April, for each machine.
    assert whole["partial"] is True
    assert whole["coverage"]["fraction"] == pytest.approx(178 / 720, abs=1e-6)
    assert whole["coverage"]["to"] == NOW.astimezone(timezone.utc).isoformat()
    figures = lambda r: {k: v for k, v in r.items() if k not in ("to", "coverage", "partial")}  # noqa: E731
    assert figures(whole) == figures(clipped)
    assert clipped["partial"] is False


def test_days_after_now_and_before_the_first_event_are_null_not_zero(line):
    engine, plant = line
    window = Interval(kst(3, 23), kst(4, 13))
    with engine.connect() as conn:
        report = kpi_report(conn, plant, window, machine="M2", by="day", now=NOW)
    days = {b["bucket"]: b for b in report["buckets"]}
    # Monday 23rd and Tuesday 24th: before M2's first event; the 9th on: after now.  No data: null figures; the
    # PBT of the 23rd and 24th (8 h each) is the calendar's, all of it unknown.
    for label in ("2026-03-23", "2026-03-24", "2026-04-09", "2026-04-10", "2026-04-12"):
        b = days[label]
        assert b["coverage"]["fraction"] == 0 and b["partial"] is True, label
        assert b["apt_s"] is None and b["gq"] is None and b["availability"] is None and b["oee"] is None, label
    assert days["2026-03-24"]["pbt_s"] == days["2026-03-24"]["unknown_s"] == 8 * HOUR
    assert days["2026-04-09"]["pbt_s"] == 0
    # The 25th had data from 08:00: partial; the 26th whole; the 8th until now (10:00).
    assert days["2026-03-25"]["partial"] and days["2026-03-25"]["availability"] == pytest.approx(7.5 / 8)
    assert not days["2026-03-26"]["partial"]
    assert days["2026-04-08"]["coverage"]["fraction"] == pytest.approx(10 / 24)
    # The days add up to the window, null days adding nothing measured.
    assert sum(b["apt_s"] or 0 for b in report["buckets"]) == pytest.approx(report["apt_s"])
    assert sum(b["pbt_s"] for b in report["buckets"]) == report["pbt_s"]


def test_a_month_without_data_is_null_and_is_never_pushed(line):
    engine, plant = line
    with engine.connect() as conn:
        january = kpi_report(conn, plant, month_window(plant, "2026-01"), line="L", now=NOW)
        may = kpi_report(conn, plant, month_window(plant, "2026-05"), line="L", now=NOW)
        for month in ("2026-01", "2026-05"):
            with pytest.raises(MonthWithoutData):
                monthly_kpis(conn, plant, month, ["ppm", "output_per_hour"], now=NOW)
    for report in (january, may):
        assert report["coverage"]["fraction"] == 0 and report["partial"] is True
        for name in ("apt_s", "gq", "pq", "ppm", "output_per_hour", "operating_rate", "oee", "availability"):
            assert report[name] is None, name
    # January: 22 weekdays x 8 h x 2 machines of planned time, none of it measured.
    assert january["pbt_s"] == january["unknown_s"] == 2 * 22 * 8 * HOUR


def test_the_hub_push_sends_the_current_month_marked_partial(line):
    engine, plant = line
    with engine.connect() as conn:
        april = monthly_kpis(conn, plant, "2026-04", ["ppm", "output_per_hour", "operating_rate"], now=NOW)
        march = monthly_kpis(conn, plant, "2026-03", ["operating_rate"], now=NOW)
    # The figures of April so far (see the test of the current month), not stretched to April 30.
    assert april.kpis == {
        "ppm": pytest.approx(20 / 1020 * 1e6, abs=1e-6),
        "output_per_hour": pytest.approx(1000 / 84, abs=1e-6),
        "operating_rate": pytest.approx(79 / 84, abs=1e-6),
    }
    assert april.partial and april.coverage["fraction"] == pytest.approx(178 / 720, abs=1e-6)
    # March is over but M2's history starts on the 25th: partial too, at the measured rate.
    assert march.partial and march.kpis["operating_rate"] == pytest.approx(202.5 / 216, abs=1e-6)


def test_the_production_report_of_today_marks_the_day_and_the_shift_partial(line):
    engine, plant = line
    with engine.connect() as conn:
        doc = production_report(conn, plant, report_window(plant, date(2026, 4, 8)), line="L", now=NOW)
        yesterday = production_report(conn, plant, report_window(plant, date(2026, 4, 7)), line="L", now=NOW)
    # April 8 until 10:00: 10 of 24 hours; the Day shift ran 2 of its 9 hours, so it is partial too.
    assert doc["kpi"]["partial"] is True
    assert doc["kpi"]["coverage"]["fraction"] == pytest.approx(10 / 24, abs=1e-6)
    (day,) = [s for s in doc["shifts"] if s["bucket"] == "2026-04-08/Day"]
    assert day["partial"] is True and day["coverage"]["fraction"] == pytest.approx(2 / 9, abs=1e-6)
    assert doc["kpi"]["availability"] == 1.0 and doc["plan"]["output_qty"] == 0
    assert all(m["partial"] for m in doc["machines"])
    assert yesterday["kpi"]["partial"] is False and yesterday["plan"]["output_qty"] == 200


def test_the_improvement_report_marks_a_partial_comparison_period(line):
    engine, plant = line
    with engine.connect() as conn:
        doc = improvement_report(
            conn, plant, period(plant, "2026-02-02..2026-02-27"), period(plant, "2026-04-01..2026-04-30"), now=NOW
        )
    # The baseline (February 2-27, 26 days = 624 h per machine) has M1 from 08:00 on the 2nd (616 h) and no M2.
    assert doc["baseline"]["partial"] is True
    assert doc["baseline"]["coverage"]["fraction"] == pytest.approx(616 / (2 * 624), abs=1e-6)
    assert doc["after"]["partial"] is True
    assert doc["after"]["coverage"]["fraction"] == pytest.approx(178 / (30 * 24), abs=1e-6)
    # Daily values only for the days with measured planned time: April 1-3, 6-8.
    assert doc["after"]["days"] == 6
    rate = {r["kpi"]: r for r in doc["kpis"]}["operating_rate"]
    assert rate["before"] == pytest.approx(0.9375) and rate["after"] == pytest.approx(79 / 84)


def test_board_tiles_of_a_machine_without_data_are_null_and_the_shift_stops_at_now(line):
    engine, plant = line
    with engine.connect() as conn:
        early = {t["code"]: t for t in machine_tiles(conn, plant, kst(3, 25, 7))}
        shift = {t["code"]: t for t in machine_tiles(conn, plant, kst(3, 25, 9, 30))}
    # 07:00 on the 25th, before the shift: the tiles show the day so far.  M2's history starts at 08:00: no data,
    # so no counts and no OEE (null, shown as "–"), where M1, idle since yesterday 17:00, made 0 units.
    assert early["M2"]["gq"] is None and early["M2"]["oee"] is None and early["M2"]["partial"] is True
    assert early["M1"]["gq"] == 0 and early["M1"]["partial"] is False
    # 09:30 in the Day shift: 08:00-09:30 ran, nothing after now (the 10:00 breakdown) is counted.
    for code in ("M1", "M2"):
        assert shift[code]["availability"] == 1.0 and shift[code]["partial"] is False, code


def test_two_states_at_one_instant_the_later_stored_holds_in_every_window(engine, rollup_units):
    """Two state events stored at the same instant (running, then down): the later one holds.  M1 is down from
    09:00 on Monday 2026-03-02 until 09:40, in the Day shift; by hand, a window 09:20-09:30 is 10 min of down
    time with the state known, whether it is read from rollups or from the events (which must find the run of
    "down" that began at 09:00, at the same instant as the "running" event stored before it)."""
    plant = Plant.from_dict(PLANT)
    events = [
        StateChange(kst(3, 2, 9), "M1", MachineState.RUNNING),
        StateChange(kst(3, 2, 9), "M1", MachineState.DOWN, "JAM"),
        StateChange(kst(3, 2, 9, 40), "M1", MachineState.RUNNING),
        StateChange(kst(3, 3, 9), "M1", MachineState.IDLE),
    ]
    with engine.begin() as conn:
        save_plant(conn, plant, "test")
        for event in events:  # one at a time, so that the stored order is the order above
            append_events(conn, [event])
        rollups.refresh(conn, plant)
    with engine.connect() as conn:
        for window in (Interval(kst(3, 2, 9, 20), kst(3, 2, 9, 30)), Interval(kst(3, 2, 8), kst(3, 2, 12))):
            el = kpi.machine_elements(conn, plant, "M1", window, NOW)
            raw = kpi.raw_elements(conn, plant, "M1", window, NOW)
            assert el == raw
        short = kpi.raw_elements(conn, plant, "M1", Interval(kst(3, 2, 9, 20), kst(3, 2, 9, 30)), NOW)
        assert (short.down_s, short.unknown_s, short.failures) == (600, 0, 0)
        morning = kpi.raw_elements(conn, plant, "M1", Interval(kst(3, 2, 8), kst(3, 2, 12)), NOW)
        # 08:00-09:00 unknown (before the first event); 09:00-09:40 down, one failure; 09:40-12:00 running.
        assert (morning.unknown_s, morning.down_s, morning.failures, morning.apt_s) == (3600, 2400, 1, 8400)
