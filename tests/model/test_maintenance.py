"""Preventive maintenance due states, shots, MTBF/MTTR/cost, and planned maintenance in the KPI engine: every
figure below is computed by hand in the comment next to it.

Sources: ISO 22400-2:2014 5.2 (MTBF = sum TBF / FE, MTTR = sum TTR / FE; PDOT is removed from PBT), IEC
60050-192:2015 192-05-13 (mean operating time between failures) and 192-07-23 (mean time to restoration).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from shopfloor.analytics.kpi import compute_elements, kpis
from shopfloor.analytics.maintenance import Repair, mtbf_s, mttr_s, order_cost, pm_states
from shopfloor.model.events import MachineState, StateChange
from shopfloor.model.intervals import Interval
from shopfloor.model.maintenance import DueState, Trigger, days_since, due, shots

UTC = timezone.utc
SEOUL = ZoneInfo("Asia/Seoul")


@pytest.mark.parametrize(
    ("used", "state", "remaining"),
    [
        (0, DueState.OK, 500),  # nothing used
        (449.9, DueState.OK, 50.1),  # 500 - 50 = 450 is where the warning starts
        (450, DueState.DUE, 50),  # exactly at the warning margin: coming due
        (499, DueState.DUE, 1),
        (500, DueState.OVERDUE, 0),  # the interval used up
        (620, DueState.OVERDUE, -120),
    ],
)
def test_a_plan_is_due_within_its_margin_and_overdue_at_its_interval(used, state, remaining):
    d = due(Trigger.RUN_HOURS, 500, 50, used)
    assert (d.state, d.remaining, d.unit) == (state, pytest.approx(remaining), "h")


def test_a_calendar_plan_falls_due_interval_days_after_it_was_done():
    done = datetime(2026, 11, 1, 9, tzinfo=UTC)
    now = datetime(2026, 11, 27, 21, tzinfo=UTC)  # 26 days 12 hours later = 26.5 days
    used = days_since(done, now)
    assert used == pytest.approx(26.5)
    d = due(Trigger.CALENDAR, 30, 7, used, done)  # warning from day 23
    assert (d.state, d.due_at) == (DueState.DUE, datetime(2026, 12, 1, 9, tzinfo=UTC))
    assert days_since(now, done) == 0  # a clock running backwards uses nothing


def test_a_zero_interval_is_refused():
    with pytest.raises(ValueError):
        due(Trigger.CYCLES, 0, 0, 1)


def test_one_shot_makes_as_many_parts_as_the_mould_has_cavities():
    assert shots(4000, 4) == 1000  # 4,000 parts of a 4-cavity mould: 1,000 shots
    assert shots(4001, 4) == 1001  # a short last shot is a shot
    assert shots(0, 8) == 0
    with pytest.raises(ValueError):
        shots(10, 0)


def test_mtbf_mttr_and_cost_by_hand():
    # 160 h of operating time (APT) with 4 breakdowns: MTBF = 160 / 4 = 40 h.
    assert mtbf_s(160 * 3600, 4) == 40 * 3600
    assert mtbf_s(160 * 3600, 0) is None  # no failure: no mean
    t0 = datetime(2026, 11, 2, 8, tzinfo=UTC)
    repairs = [
        Repair(t0, t0 + timedelta(minutes=30)),
        Repair(t0, t0 + timedelta(minutes=90)),
        Repair(t0, None),  # still open: not repaired yet, not in the mean
    ]
    assert mttr_s(repairs) == 60 * 60  # (30 + 90) / 2 = 60 min
    assert mttr_s([Repair(t0, None)]) is None
    # 2 seals at 12.50 and 1 bearing at 80, 90 min of labour at 40/h: 25 + 80 + 60 = 165.
    parts = [{"part": "seal", "qty": 2, "unit_cost": 12.5}, {"part": "bearing", "qty": 1, "unit_cost": 80}]
    assert order_cost(parts, 90, 40) == 165


def _day(h: int, m: int = 0) -> datetime:
    return datetime(2026, 11, 3, h, m, tzinfo=SEOUL)  # a Tuesday


def _planned(window: Interval) -> list[Interval]:
    """One shift 08:00-16:00 without a break: POT = 8 h."""
    shifts = [Interval(_day(8), _day(16))]
    return [p for p in (s.intersect(window) for s in shifts) if p is not None]


def _elements(pm_closed: datetime, back_to_work: datetime):
    states = [
        StateChange(_day(8), "M", MachineState.RUNNING),
        *pm_states("M", _day(9), 60, pm_closed, "maintenance:MO-1"),
        StateChange(back_to_work, "M", MachineState.RUNNING),
    ]
    return compute_elements(Interval(_day(8), _day(16)), states, [], _planned, lambda p: None)


def test_planned_maintenance_is_planned_downtime_and_its_overrun_is_not():
    # PM planned 09:00-10:00, closed 10:30, the operator starts again at 10:45.
    # PDOT = 09:00-10:00 = 1 h; PBT = 8 - 1 = 7 h; APT = 08-09 (1 h) + 10:45-16:00 (5.25 h) = 6.25 h;
    # ADET = 10:00-10:45 = 0.75 h (the overrun and the wait for the operator); no failure event (not a breakdown).
    e = _elements(_day(10, 30), _day(10, 45))
    assert (e.pdot_s, e.pbt_s, e.apt_s, e.adet_s, e.failures) == (3600, 7 * 3600, 6.25 * 3600, 0.75 * 3600, 0)
    assert kpis(e)["availability"] == pytest.approx(6.25 / 7)
    # Closed inside its window at 09:50, running at 09:55: PDOT = 50 min, ADET = 5 min, APT = 8 h - 55 min.
    e = _elements(_day(9, 50), _day(9, 55))
    assert (e.pdot_s, e.adet_s, e.apt_s) == (50 * 60, 5 * 60, 8 * 3600 - 55 * 60)


def test_the_states_of_a_preventive_order():
    open_ = pm_states("M", _day(9), 60, None, "s")
    assert [(s.ts, s.state) for s in open_] == [(_day(9), MachineState.PLANNED_STOP)]
    late = pm_states("M", _day(9), 60, _day(10, 30), "s")
    assert [(s.ts, s.state, s.reason) for s in late] == [
        (_day(9), MachineState.PLANNED_STOP, "PM"),
        (_day(10), MachineState.IDLE, "PM_OVERRUN"),
        (_day(10, 30), MachineState.IDLE, "PM_DONE"),
    ]
