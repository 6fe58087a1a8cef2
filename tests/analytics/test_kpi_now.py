"""Time after now is never counted (property, hypothesis): for any events and any window, the KPIs of a window that
extends past now equal those of the same window clipped at now, whatever happened (or was recorded) after now."""

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shopfloor.analytics.kpi import MachineHistory, clip_to_now, coverage, kpis
from shopfloor.model.calendar import calendar_from_dict
from shopfloor.model.events import CountEvent, CountKind, MachineState, StateChange
from shopfloor.model.intervals import Interval

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
BASE = datetime(2026, 3, 27, tzinfo=UTC)  # the night of 28-29 March 2026 is 23 hours long in Berlin
CAL = calendar_from_dict(
    {
        "shifts": [
            {"name": "Day", "start": "06:00", "end": "14:00", "breaks": [{"start": "10:00", "end": "10:30"}]},
            {"name": "Night", "start": "22:00", "end": "06:00", "days": ["fri", "sat", "sun"]},
        ]
    }
)
minutes = st.integers(-24 * 60, 5 * 24 * 60).map(lambda m: BASE + timedelta(minutes=m))
events = st.lists(
    st.one_of(
        st.builds(lambda ts, s: StateChange(ts, "M", s), minutes, st.sampled_from(list(MachineState))),
        st.builds(
            lambda ts, k, q: CountEvent(ts, "M", k, q, "P"),
            minutes,
            st.sampled_from(list(CountKind)),
            st.integers(1, 100),
        ),  # fmt: skip
    ),
    max_size=40,
)


def planned(window):
    return CAL.planned(BERLIN, window)


@settings(max_examples=300, deadline=None)
@given(events=events, a=minutes, b=minutes, now=minutes)
def test_a_window_past_now_has_the_kpis_of_the_window_clipped_at_now(events, a, b, now):
    history = MachineHistory([e for e in events if isinstance(e, StateChange)],
                             [e for e in events if isinstance(e, CountEvent)])  # fmt: skip
    window = Interval(min(a, b), max(a, b))
    past_now = history.elements(window, planned, lambda p: 30.0, now)
    clipped = history.elements(clip_to_now(window, now), planned, lambda p: 30.0)
    assert past_now == clipped
    assert kpis(past_now) == kpis(clipped)
    first = min((e.ts for e in events), default=None)
    # Coverage: the clipped window's covered time is all of the original window's.
    assert coverage(window, first, now).covered_s == pytest.approx(
        coverage(clip_to_now(window, now), first, now).covered_s
    )
