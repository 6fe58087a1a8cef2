"""Pareto ordering and downtime by reason."""

from datetime import datetime, timedelta, timezone

import pytest

from shopfloor.analytics.pareto import downtime_by_reason, pareto
from shopfloor.model.events import MachineState, StateChange
from shopfloor.model.intervals import Interval

T0 = datetime(2026, 3, 2, tzinfo=timezone.utc)


def at(minutes, state, reason=None):
    return StateChange(T0 + timedelta(minutes=minutes), "M", MachineState(state), reason)


def test_pareto_sorts_and_accumulates():
    rows = pareto([("B", 30, 1), ("A", 50, 2), ("C", 20, 1), ("A", 0, 1)])
    assert [(r.category, r.value, r.count) for r in rows] == [("A", 50, 3), ("B", 30, 1), ("C", 20, 1)]
    assert [r.cumulative_pct for r in rows] == pytest.approx([50, 80, 100])


def test_downtime_by_reason_counts_only_planned_time_and_each_stop_once():
    window = Interval(T0, T0 + timedelta(hours=2))
    planned = lambda iv: [p for p in [Interval(T0, T0 + timedelta(minutes=90)).intersect(iv)] if p]  # noqa: E731
    states = [
        at(0, "running"),
        at(10, "down", "TOOL"),
        at(20, "running"),
        at(30, "idle", "MATERIAL"),
        at(35, "idle", "MATERIAL"),
        at(40, "running"),
        at(80, "down", "TOOL"),
        at(110, "running"),
    ]
    rows = downtime_by_reason(states, window, planned)
    assert [(r.category, r.value, r.count) for r in rows] == [("TOOL", 20 * 60, 2), ("MATERIAL", 10 * 60, 1)]
