"""The KPI traps other systems' bug trackers know: shift boundaries, time zones, overlaps, no-shift time."""

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from shopfloor.analytics.kpi import KpiElements, MachineHistory, compute_elements, kpis
from shopfloor.model.calendar import buckets, calendar_from_dict
from shopfloor.model.events import CountEvent, CountKind, MachineState, StateChange
from shopfloor.model.intervals import Interval

UTC = timezone.utc
SEOUL = ZoneInfo("Asia/Seoul")
CAL = calendar_from_dict(
    {
        "shifts": [
            {
                "name": "Day",
                "start": "06:00",
                "end": "14:00",
                "days": ["mon", "tue", "wed", "thu", "fri"],
                "breaks": [{"start": "10:00", "end": "10:30"}],
            },
            {"name": "Night", "start": "22:00", "end": "06:00", "days": ["mon"]},
        ]
    }
)


def kst(*args) -> datetime:
    return datetime(2026, 3, *args, tzinfo=SEOUL).astimezone(UTC)


def planned(window):
    return CAL.planned(SEOUL, window)


def state(ts, s, reason=None):
    return StateChange(ts, "M1", MachineState(s), reason)


def count(ts, kind, qty, product="P"):
    return CountEvent(ts, "M1", CountKind(kind), qty, product)


def pru(product):
    return {"P": 30.0}.get(product)


def elements(window, states, counts=(), now=None):
    return compute_elements(window, states, counts, planned, pru, now)


MONDAY = Interval(kst(2, 0), kst(3, 0))


def test_down_outside_shifts_is_not_downtime():
    # Down from Sunday evening to Monday 06:00 (no shift then), running through the Day shift.
    ev = [state(kst(1, 18), "down"), state(kst(2, 6), "running"), state(kst(2, 14), "down")]
    e = elements(Interval(kst(2, 0), kst(2, 22)), ev)
    assert e.adet_s == 0
    assert e.failures == 0
    # Running through the 10:00-10:30 break is unscheduled production, so it joins PBT.
    assert (e.pbt_s, e.apt_s, e.overtime_s) == (8 * 3600, 8 * 3600, 0.5 * 3600)


def test_running_through_a_break_is_unscheduled_production_not_availability_above_one():
    ev = [state(kst(2, 6), "running"), state(kst(2, 14), "idle")]
    e = elements(Interval(kst(2, 0), kst(2, 22)), ev)
    assert e.overtime_s == 0.5 * 3600  # the 10:00-10:30 break
    assert e.pbt_s == 8 * 3600
    assert e.apt_s == 8 * 3600
    assert kpis(e)["availability"] == 1.0


def test_idle_in_a_break_is_not_a_loss():
    ev = [
        state(kst(2, 6), "running"),
        state(kst(2, 10), "idle"),
        state(kst(2, 10, 30), "running"),
        state(kst(2, 14), "idle"),
    ]
    e = elements(Interval(kst(2, 6), kst(2, 14)), ev)
    assert (e.pbt_s, e.apt_s, e.adet_s, e.overtime_s) == (7.5 * 3600, 7.5 * 3600, 0, 0)


def test_planned_stop_and_no_order_leave_planned_busy_time():
    ev = [
        state(kst(2, 6), "running"),
        state(kst(2, 7), "planned_stop"),
        state(kst(2, 8), "no_order"),
        state(kst(2, 9), "down"),
        state(kst(2, 9, 30), "running"),
        state(kst(2, 10), "idle"),
        state(kst(2, 10, 30), "running"),
    ]
    e = elements(Interval(kst(2, 6), kst(2, 14)), ev)
    assert e.pdot_s == 2 * 3600
    assert e.pbt_s == 7.5 * 3600 - 2 * 3600
    assert e.adet_s == 0.5 * 3600
    assert e.apt_s == e.pbt_s - e.adet_s


def test_a_state_across_the_shift_boundary_is_split_between_shifts():
    # Running from Monday 20:00 to Tuesday 08:00: Day (nothing), Night (22-06 all running), Tuesday Day 06-08.
    ev = [state(kst(2, 13), "idle"), state(kst(2, 20), "running"), state(kst(3, 8), "idle")]
    window = Interval(kst(2, 0), kst(3, 14))
    parts = buckets(CAL, SEOUL, window, "shift")
    by_label = {label: elements(iv, ev) for label, iv in parts}
    assert by_label["2026-03-02/Night"].apt_s == 8 * 3600
    assert by_label["2026-03-03/Day"].apt_s == 2 * 3600
    assert by_label["2026-03-03/Day"].adet_s == 5.5 * 3600
    # 20:00-22:00 running between shifts is unscheduled production in the gap bucket.
    gap = [e for label, e in by_label.items() if label.endswith("(no shift)") and e.apt_s > 0]
    assert len(gap) == 1 and gap[0].apt_s == 2 * 3600 and gap[0].overtime_s == 2 * 3600
    total = KpiElements.sum(by_label.values())
    assert total == elements(window, ev)


def test_time_before_the_first_event_is_unknown_not_delay():
    ev = [state(kst(2, 8), "running"), state(kst(2, 10), "idle"), state(kst(2, 10, 30), "running")]
    e = elements(Interval(kst(2, 6), kst(2, 14)), ev)
    # By hand: the Day shift 06:00-14:00 less the 10:00-10:30 break is 7.5 h of PBT.  06:00-08:00 (2 h) has no
    # state yet: unknown.  08:00-14:00 less the break is 5.5 h, all running (idle only in the break).
    assert e.unknown_s == 2 * 3600
    assert e.adet_s == 0
    assert e.pbt_s == 7.5 * 3600
    # Availability is taken over the measured 5.5 h: 5.5 / 5.5 = 1, not 5.5 / 7.5 (the 2 h were not a loss).
    assert kpis(e)["availability"] == pytest.approx(5.5 / 5.5)
    assert kpis(e)["output_per_hour"] == 0.0


def test_a_window_wholly_before_the_first_event_has_no_ratios_not_zero():
    # 06:00-08:00 on the same day, before the machine's first event at 08:00: 2 h of PBT, all unknown.
    ev = [state(kst(2, 8), "running")]
    e = elements(Interval(kst(2, 6), kst(2, 8)), ev)
    assert (e.pbt_s, e.unknown_s, e.apt_s) == (2 * 3600, 2 * 3600, 0)
    k = kpis(e)
    assert k["availability"] is None and k["oee"] is None and k["operating_rate"] is None
    assert k["output_per_hour"] is None and k["ppm"] is None


def test_duplicated_and_repeated_states_are_never_counted_twice():
    ev = [
        state(kst(2, 6), "running"),
        state(kst(2, 6), "running"),
        state(kst(2, 7), "running", "again"),
        state(kst(2, 9), "down"),
        state(kst(2, 9), "down"),
        state(kst(2, 9, 10), "down", "CLAMP"),
        state(kst(2, 9, 30), "running"),
    ]
    e = elements(Interval(kst(2, 6), kst(2, 14)), ev)
    assert e.pbt_s == e.apt_s + e.adet_s
    assert e.adet_s == 0.5 * 3600
    assert e.failures == 1
    assert MachineHistory(ev, []).elements(Interval(kst(2, 6), kst(2, 14)), planned, pru) == e


def test_one_breakdown_across_an_hour_boundary_is_one_failure():
    ev = [state(kst(2, 6), "running"), state(kst(2, 8, 50), "down"), state(kst(2, 9, 20), "running")]
    hours = [Interval(kst(2, h), kst(2, h + 1)) for h in range(6, 14)]
    per_hour = [elements(h, ev) for h in hours]
    assert [e.failures for e in per_hour] == [0, 0, 1, 0, 0, 0, 0, 0]
    assert sum(e.down_s for e in per_hour) == 30 * 60
    assert kpis(KpiElements.sum(per_hour))["mttr_s"] == 30 * 60


def test_a_breakdown_that_starts_before_the_shift_counts_once_in_the_shift():
    ev = [state(kst(2, 5), "down"), state(kst(2, 7), "running")]
    before = elements(Interval(kst(2, 0), kst(2, 6)), ev)
    during = elements(Interval(kst(2, 6), kst(2, 14)), ev)
    assert before.failures == 0 and before.adet_s == 0
    assert during.failures == 1 and during.down_s == 3600


def test_counts_at_a_bucket_boundary_go_to_the_later_bucket():
    ev = [state(kst(2, 6), "running")]
    c = [count(kst(2, 7), "good", 10)]
    first = elements(Interval(kst(2, 6), kst(2, 7)), ev, c)
    second = elements(Interval(kst(2, 7), kst(2, 8)), ev, c)
    assert (first.gq, second.gq) == (0, 10)


def test_the_last_state_lasts_until_now_not_until_the_window_end():
    ev = [state(kst(2, 6), "running")]
    now = kst(2, 9)
    e = elements(Interval(kst(2, 6), kst(2, 14)), ev, now=now)
    assert e.pbt_s == 3 * 3600 and e.apt_s == 3 * 3600


def test_a_product_without_ideal_cycle_makes_effectiveness_undefined_not_wrong():
    ev = [state(kst(2, 6), "running")]
    c = [count(kst(2, 7), "good", 100), count(kst(2, 8), "good", 50, product="UNKNOWN")]
    e = elements(Interval(kst(2, 6), kst(2, 14)), ev, c)
    assert e.pq_without_pru == 50
    assert kpis(e)["effectiveness"] is None
    assert kpis(e)["oee"] is None
    assert kpis(e)["quality_ratio"] == 1.0


def test_the_same_instant_written_with_different_offsets_is_the_same_instant():
    a = state(datetime(2026, 3, 2, 6, 0, tzinfo=SEOUL), "running")
    b = state(datetime(2026, 3, 1, 21, 0, tzinfo=UTC), "running")
    window = Interval(kst(2, 6), kst(2, 14))
    assert elements(window, [a]) == elements(window, [b])


def test_nothing_produced_in_planned_time_is_zero_oee():
    ev = [state(kst(2, 6), "down")]
    k = kpis(elements(Interval(kst(2, 6), kst(2, 14)), ev))
    assert k["availability"] == 0 and k["oee"] == 0 and k["quality_ratio"] is None


def test_a_window_without_planned_time_has_no_ratios():
    k = kpis(elements(Interval(kst(7, 0), kst(8, 0)), [state(kst(7, 0), "idle")]))  # Saturday
    assert k["availability"] is None and k["oee"] is None and k["output_per_hour"] is None


def test_line_aggregation_is_time_weighted_not_an_average_of_ratios():
    short = KpiElements(pbt_s=3600, apt_s=3600, pq=120, gq=120, ideal_s=3600)
    long = KpiElements(pbt_s=9 * 3600, apt_s=0.0)
    line = kpis(short + long)
    assert line["availability"] == pytest.approx(0.1)  # not (1.0 + 0.0) / 2
    assert line["oee"] == pytest.approx(0.1)


def test_utc_window_spanning_midnight_in_seoul_equals_the_two_local_days():
    ev = [state(kst(2, 6), "running"), state(kst(3, 2), "down"), state(kst(3, 9), "running")]
    whole = elements(Interval(kst(2, 0), kst(4, 0)), ev)
    days = [elements(iv, ev) for _, iv in buckets(CAL, SEOUL, Interval(kst(2, 0), kst(4, 0)), "day")]
    assert KpiElements.sum(days) == whole
    assert whole.failures == 1
