"""The interval set operations at their edges: touching, zero-length and exactly covering intervals.

Each case is computed by hand on a half-open [start, end) line.  These edges are where a KPI counts a second
twice or invents an empty interval, and where a mutation run (pyproject.toml, ``[tool.mutmut]``) found the
operations untested.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from shopfloor.model.intervals import Interval, hour_floor, hours, intersect_all, merge, subtract, total_seconds

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def iv(a: int, b: int) -> Interval:
    return Interval(at(a), at(b))


@pytest.mark.parametrize("start, end", [(T0, T0.replace(tzinfo=None)), (T0.replace(tzinfo=None), T0)])
def test_one_naive_bound_is_refused(start, end):
    with pytest.raises(ValueError, match="timezone-aware"):
        Interval(start, end)


def test_an_interval_ending_before_it_starts_is_refused():
    with pytest.raises(ValueError, match="ends before it starts"):
        iv(10, 5)


def test_touching_intervals_do_not_intersect():
    # [0, 10) and [10, 20) share no instant.
    assert iv(0, 10).intersect(iv(10, 20)) is None
    assert iv(0, 10).intersect(iv(5, 20)) == iv(5, 10)


def test_merge_drops_zero_length_intervals():
    assert merge([iv(5, 5)]) == []
    assert merge([iv(5, 5), iv(0, 3)]) == [iv(0, 3)]


def test_merge_joins_touching_intervals_into_one():
    # [0, 10) + [10, 20) is [0, 20): one interval, as the docstring promises ("non-touching").
    assert merge([iv(10, 20), iv(0, 10)]) == [iv(0, 20)]
    assert merge([iv(0, 10), iv(2, 4)]) == [iv(0, 10)]


def test_intersection_of_sets_with_equal_ends():
    assert intersect_all([iv(0, 10), iv(20, 30)], [iv(5, 10), iv(25, 30)]) == [iv(5, 10), iv(25, 30)]


def test_subtracting_a_cut_that_starts_with_the_interval_leaves_only_the_rest():
    # [0, 30) - [0, 10) = [10, 30): no empty [0, 0) in front.
    assert subtract([iv(0, 30)], [iv(0, 10)]) == [iv(10, 30)]


def test_subtracting_an_exact_cover_leaves_nothing():
    # [0, 30) - [0, 30) is empty; so is [0, 30) - [0, 10) - [10, 30) (touching cuts).
    assert subtract([iv(0, 30)], [iv(0, 30)]) == []
    assert subtract([iv(0, 30)], [iv(10, 30), iv(0, 10)]) == []
    assert subtract([iv(0, 30)], [iv(20, 30)]) == [iv(0, 20)]


def test_total_seconds_counts_an_overlap_once():
    assert total_seconds([iv(0, 10), iv(5, 15), iv(15, 15)]) == 15 * 60


def test_a_window_is_cut_at_every_whole_hour():
    # 08:20:30.5 to 10:05 is cut at 09:00 and 10:00: three parts, the first and last partial.
    start = T0 + timedelta(minutes=20, seconds=30, microseconds=500_000)
    parts = hours(Interval(start, T0 + timedelta(hours=2, minutes=5)))
    assert parts == [Interval(start, at(60)), iv(60, 120), iv(120, 125)]
    assert hour_floor(start) == T0
