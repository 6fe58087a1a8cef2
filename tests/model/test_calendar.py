"""Shift calendars: breaks, overnight shifts, holidays, time zones, daylight saving, overlaps."""

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from shopfloor.model.calendar import CalendarError, buckets, calendar_from_dict
from shopfloor.model.intervals import Interval, total_seconds

UTC = timezone.utc
DAY = {
    "name": "Day",
    "start": "06:00",
    "end": "14:00",
    "days": ["mon", "tue", "wed", "thu", "fri"],
    "breaks": [
        {"start": "08:00", "end": "08:15"},
        {"start": "10:00", "end": "10:30"},
        {"start": "12:00", "end": "12:15"},
    ],
}
NIGHT = {
    "name": "Night",
    "start": "22:00",
    "end": "06:00",
    "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
    "breaks": [{"start": "02:00", "end": "02:30"}],
}


def local(tz: str, *args) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(tz)).astimezone(UTC)


def test_day_shift_minus_breaks_is_seven_hours_in_seoul():
    cal = calendar_from_dict({"shifts": [DAY]})
    tz = ZoneInfo("Asia/Seoul")
    monday = Interval(local("Asia/Seoul", 2026, 3, 2), local("Asia/Seoul", 2026, 3, 3))
    planned = cal.planned(tz, monday)
    assert total_seconds(planned) == 7 * 3600
    assert planned[0].start == datetime(2026, 3, 1, 21, 0, tzinfo=UTC)  # 06:00 KST = 21:00 UTC the day before
    assert planned[-1].end == datetime(2026, 3, 2, 5, 0, tzinfo=UTC)


def test_weekend_and_holiday_have_no_planned_time():
    cal = calendar_from_dict({"shifts": [DAY], "holidays": ["2026-03-03"]})
    tz = ZoneInfo("Asia/Seoul")
    saturday = Interval(local("Asia/Seoul", 2026, 3, 7), local("Asia/Seoul", 2026, 3, 8))
    holiday = Interval(local("Asia/Seoul", 2026, 3, 3), local("Asia/Seoul", 2026, 3, 4))
    assert cal.planned(tz, saturday) == []
    assert cal.planned(tz, holiday) == []


def test_overnight_shift_belongs_to_the_day_it_starts_and_its_break_falls_after_midnight():
    cal = calendar_from_dict({"shifts": [NIGHT]})
    tz = ZoneInfo("Asia/Seoul")
    occ = cal.occurrences(tz, Interval(local("Asia/Seoul", 2026, 3, 2), local("Asia/Seoul", 2026, 3, 3, 12)))
    assert [o.key for o in occ] == ["2026-03-01/Night", "2026-03-02/Night"]
    night = occ[1]
    assert night.span == Interval(local("Asia/Seoul", 2026, 3, 2, 22), local("Asia/Seoul", 2026, 3, 3, 6))
    assert night.breaks == (Interval(local("Asia/Seoul", 2026, 3, 3, 2), local("Asia/Seoul", 2026, 3, 3, 2, 30)),)
    assert sum(iv.seconds for iv in night.planned()) == 7.5 * 3600


def test_midnight_splits_an_overnight_shift_exactly():
    cal = calendar_from_dict({"shifts": [NIGHT]})
    tz = ZoneInfo("Asia/Seoul")
    before = Interval(local("Asia/Seoul", 2026, 3, 2), local("Asia/Seoul", 2026, 3, 3))
    after = Interval(local("Asia/Seoul", 2026, 3, 3), local("Asia/Seoul", 2026, 3, 4))
    both = Interval(before.start, after.end)
    assert total_seconds(cal.planned(tz, before)) + total_seconds(cal.planned(tz, after)) == total_seconds(
        cal.planned(tz, both)
    )
    # Monday 2026-03-02 holds 00:00-06:00 of Sunday's night shift less its break, and 22:00-24:00 of Monday's.
    assert total_seconds(cal.planned(tz, before)) == (5.5 + 2) * 3600


@pytest.mark.parametrize(
    "tz_name, night_start, hours",
    [
        # US spring forward 2026-03-08 02:00 -> 03:00: the night shift of Saturday 7 March lasts 7 h, not 8 h.
        ("America/New_York", (2026, 3, 7), 7),
        # US fall back 2026-11-01 02:00 -> 01:00: the night shift of Saturday 31 October lasts 9 h.
        ("America/New_York", (2026, 10, 31), 9),
        # EU: 2026-03-29 02:00 -> 03:00 and 2026-10-25 03:00 -> 02:00.
        ("Europe/Berlin", (2026, 3, 28), 7),
        ("Europe/Berlin", (2026, 10, 24), 9),
        # Korea has no daylight saving time.
        ("Asia/Seoul", (2026, 3, 7), 8),
    ],
)
def test_overnight_shift_across_daylight_saving_change_lasts_its_real_elapsed_time(tz_name, night_start, hours):
    night = dict(NIGHT, breaks=[])
    cal = calendar_from_dict({"shifts": [night]})
    tz = ZoneInfo(tz_name)
    start = local(tz_name, *night_start, 12)
    occ = [
        o
        for o in cal.occurrences(tz, Interval(start, start + timedelta(days=1)))
        if o.day.isoformat() == "{:04d}-{:02d}-{:02d}".format(*night_start)
    ]
    assert len(occ) == 1
    assert occ[0].span.seconds == hours * 3600


def test_local_day_buckets_follow_daylight_saving():
    cal = calendar_from_dict({"shifts": [DAY]})
    tz = ZoneInfo("Europe/Berlin")
    window = Interval(local("Europe/Berlin", 2026, 3, 28), local("Europe/Berlin", 2026, 3, 31))
    days = buckets(cal, tz, window, "day")
    assert [label for label, _ in days] == ["2026-03-28", "2026-03-29", "2026-03-30"]
    assert [iv.seconds / 3600 for _, iv in days] == [24, 23, 24]
    hours = buckets(cal, tz, window, "hour")
    assert len(hours) == 71


def test_hour_buckets_in_a_half_hour_zone_start_at_local_hours():
    cal = calendar_from_dict({"shifts": [DAY]})
    tz = ZoneInfo("Asia/Kolkata")
    window = Interval(datetime(2026, 3, 2, 0, 0, tzinfo=UTC), datetime(2026, 3, 2, 3, 0, tzinfo=UTC))
    hours = buckets(cal, tz, window, "hour")
    assert [iv.start.minute for _, iv in hours] == [0, 30, 30, 30]
    assert hours[1][0] == "2026-03-02T06:00+0530"


def test_shift_buckets_cover_the_window_and_mark_time_between_shifts():
    cal = calendar_from_dict({"shifts": [DAY, dict(NIGHT, days=["mon"])]})
    tz = ZoneInfo("Asia/Seoul")
    window = Interval(local("Asia/Seoul", 2026, 3, 2), local("Asia/Seoul", 2026, 3, 3))
    parts = buckets(cal, tz, window, "shift")
    assert [label for label, _ in parts] == [
        "2026-03-02/(no shift)",
        "2026-03-02/Day",
        "2026-03-02/(no shift)",
        "2026-03-02/Night",
    ]
    assert sum(iv.seconds for _, iv in parts) == window.seconds
    assert all(a[1].end == b[1].start for a, b in zip(parts, parts[1:]))


def test_overlapping_shifts_are_refused_because_their_time_would_count_twice():
    late = {"name": "Late", "start": "13:00", "end": "21:00", "days": ["mon"]}
    with pytest.raises(CalendarError, match="shift 'Day' overlaps shift 'Late'"):
        calendar_from_dict({"shifts": [DAY, late]})


@pytest.mark.parametrize(
    "shift, message",
    [
        ({"name": "X", "start": "25:00", "end": "06:00"}, "not a time of day"),
        ({"name": "X", "start": "06:00", "end": "06:00"}, "start and end are equal"),
        ({"name": "X", "start": "06:00", "end": "14:00", "days": ["funday"]}, "not a weekday"),
        ({"name": "X", "end": "14:00"}, "start: missing"),
        (
            {"name": "X", "start": "22:00", "end": "06:00", "breaks": [{"start": "07:00", "end": "07:30"}]},
            "not inside the shift",
        ),
    ],
)
def test_bad_shifts_are_refused_with_a_reason(shift, message):
    with pytest.raises(CalendarError, match=message):
        calendar_from_dict({"shifts": [shift]})


# -- extra shifts: a shift worked on one date only ---------------------------------------------------------------
def test_an_extra_saturday_shift_counts_on_its_date_only():
    # Day shift mon-fri 06:00-14:00 with 60 min of breaks; an extra Saturday 2026-12-05 08:00-12:00 with a 15 min
    # break.  Hand count, Asia/Seoul: Saturday 5 Dec planned = 4 h - 15 min = 3 h 45 min = 13 500 s; Saturday 12 Dec
    # has no shift at all; the extra shift of a holiday still counts (worked on purpose).
    cal = calendar_from_dict(
        {
            "shifts": [DAY],
            "holidays": ["2026-12-07"],
            "extra_shifts": [
                {"date": "2026-12-05", "name": "Sat", "start": "08:00", "end": "12:00",
                 "breaks": [{"start": "10:00", "end": "10:15"}]},
                {"date": "2026-12-07", "name": "Catch-up", "start": "09:00", "end": "11:00"},
            ],
        }
    )  # fmt: skip
    tz = ZoneInfo("Asia/Seoul")

    def planned_on(day: int) -> float:
        start = datetime(2026, 12, day, tzinfo=tz)
        return total_seconds(cal.planned(tz, Interval(start, start + timedelta(days=1))))

    assert planned_on(5) == 13_500
    assert planned_on(12) == 0
    assert planned_on(7) == 7_200  # the holiday cancels the Day shift, not the extra one
    assert planned_on(8) == 8 * 3600 - 60 * 60
    assert calendar_from_dict(cal.to_dict()) == cal


def test_an_extra_shift_is_checked_like_a_shift():
    with pytest.raises(CalendarError) as bad:
        calendar_from_dict(
            {
                "shifts": [DAY],
                "extra_shifts": [
                    {"date": "2026-12-32", "name": "X", "start": "08:00", "end": "12:00"},
                    {"date": "2026-12-05", "name": "Y", "start": "08:00", "end": "12:00",
                     "breaks": [{"start": "13:00", "end": "13:30"}]},
                ],
            }
        )  # fmt: skip
    assert bad.value.problems == [
        ".extra_shifts[0].date: '2026-12-32' is not a date YYYY-MM-DD",
        ".extra_shifts[1].breaks[0]: break 13:00-13:30 is not inside the shift 08:00-12:00",
    ]
    with pytest.raises(CalendarError) as overlap:  # Tuesday 8 Dec has the Day shift 06:00-14:00
        calendar_from_dict(
            {"shifts": [DAY], "extra_shifts": [{"date": "2026-12-08", "name": "Z", "start": "12:00", "end": "16:00"}]}
        )
    assert overlap.value.problems == [".shifts: shift 'Day' overlaps shift 'Z' (their time would be counted twice)"]
